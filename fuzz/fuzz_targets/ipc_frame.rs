//! Fuzz the IPC frame decoder and every message decoder behind it: any
//! bytes from a peer must give frames or an error, never a panic or an
//! allocation beyond the frame limit.
#![no_main]

use ipc::control::{ControlReply, ControlRequest};
use ipc::frame::FrameDecoder;
use ipc::master::{MasterToWorker, WorkerToMaster};
use ipc::store::{StoreReply, StoreRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut d = FrameDecoder::new();
    // Feed in two parts so partial-frame handling is exercised too.
    let cut = data.first().map(|b| *b as usize % (data.len() + 1)).unwrap_or(0);
    for part in [&data[..cut], &data[cut..]] {
        d.push_bytes(part);
        while let Ok(Some(f)) = d.next_frame() {
            let _ = f.decode::<StoreRequest>();
            let _ = f.decode::<StoreReply>();
            let _ = f.decode::<ControlRequest>();
            let _ = f.decode::<ControlReply>();
            let _ = f.decode::<MasterToWorker>();
            let _ = f.decode::<WorkerToMaster>();
        }
    }
    let _ = d.finish();
});
