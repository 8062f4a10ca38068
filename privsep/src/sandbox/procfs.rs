//! Reading /proc/self: the thread count `enter` asserts on, and the
//! `/proc/self/status` lines (capability masks, NoNewPrivs, Seccomp) that
//! verify the sandbox and that `sandbox-check` prints.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

const STATUS_PATH: &str = "/proc/self/status";
const TASK_DIR: &str = "/proc/self/task";
/// /proc/self/status is about 1.5 KiB; stop reading well past that.
const MAX_STATUS_BYTES: usize = 64 * 1024;
const READ_CHUNK: usize = 4096;

/// Number of threads of this process.
pub(crate) fn thread_count() -> io::Result<usize> {
    let mut n = 0;
    for entry in std::fs::read_dir(TASK_DIR)? {
        entry?;
        n += 1;
    }
    Ok(n)
}

/// Parsed `/proc/self/status`: "Key:\tvalue" lines.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProcStatus {
    lines: BTreeMap<String, String>,
}

impl ProcStatus {
    pub(crate) fn read_self() -> io::Result<Self> {
        Ok(Self::parse(&std::fs::read_to_string(STATUS_PATH)?))
    }

    /// Open the status file for a later [`ProcStatus::read_from`]: once
    /// landlock denies all paths, only an already open fd can be read.
    pub(crate) fn open_self() -> io::Result<File> {
        File::open(STATUS_PATH)
    }

    /// Re-read an open status file from offset 0 (procfs regenerates it,
    /// so the values are current).
    pub(crate) fn read_from(file: &File) -> io::Result<Self> {
        let mut buf = Vec::new();
        let mut chunk = [0u8; READ_CHUNK];
        loop {
            let n = file.read_at(&mut chunk, buf.len() as u64)?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.len() > MAX_STATUS_BYTES {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "/proc/self/status is too large",
                ));
            }
        }
        Ok(Self::parse(&String::from_utf8_lossy(&buf)))
    }

    pub(crate) fn parse(text: &str) -> Self {
        let lines = text
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        ProcStatus { lines }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.lines.get(key).map(String::as_str)
    }

    /// A capability mask line (`CapEff`, `CapBnd`, ...) as a number.
    pub(crate) fn cap_mask(&self, key: &str) -> Option<u64> {
        u64::from_str_radix(self.get(key)?, 16).ok()
    }

    /// The named lines that exist.
    pub(crate) fn subset(&self, keys: &[&str]) -> BTreeMap<String, String> {
        keys.iter()
            .filter_map(|k| Some((k.to_string(), self.get(k)?.to_string())))
            .collect()
    }
}

/// The capability sets, from /proc/self/status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CapMasks {
    pub inheritable: u64,
    pub permitted: u64,
    pub effective: u64,
    pub bounding: u64,
    pub ambient: u64,
}

impl CapMasks {
    pub(crate) fn from_status(status: &ProcStatus) -> Option<Self> {
        Some(CapMasks {
            inheritable: status.cap_mask("CapInh")?,
            permitted: status.cap_mask("CapPrm")?,
            effective: status.cap_mask("CapEff")?,
            bounding: status.cap_mask("CapBnd")?,
            ambient: status.cap_mask("CapAmb")?,
        })
    }

    /// Capabilities this process holds or can gain (everything but the
    /// bounding set, which only limits what an exec could gain).
    pub(crate) fn held(&self) -> bool {
        self.inheritable | self.permitted | self.effective | self.ambient != 0
    }

    pub(crate) fn all_zero(&self) -> bool {
        !self.held() && self.bounding == 0
    }
}

impl std::fmt::Display for CapMasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CapInh {:016x} CapPrm {:016x} CapEff {:016x} CapBnd {:016x} CapAmb {:016x}",
            self.inheritable, self.permitted, self.effective, self.bounding, self.ambient
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Name:\tmoxd\nUid:\t999\t999\t999\t999\nCapInh:\t0000000000000000\n\
        CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t000001ffffffffff\n\
        CapAmb:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\n";

    #[test]
    fn parses_status_lines_and_masks() {
        let s = ProcStatus::parse(SAMPLE);
        assert_eq!(s.get("Uid"), Some("999\t999\t999\t999"));
        assert_eq!(s.get("Seccomp"), Some("2"));
        let caps = CapMasks::from_status(&s).expect("all cap lines present");
        assert_eq!(caps.bounding, 0x1ff_ffff_ffff);
        assert!(!caps.held());
        assert!(!caps.all_zero());
        let sub = s.subset(&["NoNewPrivs", "Missing"]);
        assert_eq!(sub.len(), 1);
        assert_eq!(sub["NoNewPrivs"], "1");
    }

    #[test]
    fn reads_own_status_through_an_open_fd() {
        let file = ProcStatus::open_self().expect("open /proc/self/status");
        let s = ProcStatus::read_from(&file).expect("read status");
        assert_eq!(s.get("Pid"), Some(std::process::id().to_string().as_str()));
        // Read twice: the second read starts at 0 again.
        let again = ProcStatus::read_from(&file).expect("read status again");
        assert_eq!(again.get("Pid"), s.get("Pid"));
        assert!(thread_count().expect("task dir") >= 1);
    }
}
