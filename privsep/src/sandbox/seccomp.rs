//! The seccomp allowlist of each worker role: listed syscalls are allowed,
//! every other one fails with EPERM. Built from groups (what a tokio
//! multi-threaded runtime, tracing and unix-socket IPC need; the store's
//! file work; reading config trees; accepting; connecting) with per-arch
//! syscall numbers. A second, earlier filter makes `clone3` fail with
//! ENOSYS so that glibc falls back to `clone`, whose flags a filter can see:
//! only thread creation passes, never a new process or namespace.
//! Installed last, after the uid switch and landlock, so none of the setup
//! syscalls need to be listed.

use std::collections::BTreeMap;

use ipc::Role;
use ipc::sandbox::FeatureState;
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule,
};

use super::SandboxError;

/// Syscall numbers that differ per architecture: old syscalls x86_64 still
/// has and glibc still calls there (aarch64 only has the `*at` forms and
/// renames with renameat2).
#[cfg(target_arch = "x86_64")]
mod arch {
    pub(super) const TARGET: seccompiler::TargetArch = seccompiler::TargetArch::x86_64;
    pub(super) const BASE: &[i64] = &[libc::SYS_epoll_wait, libc::SYS_poll, libc::SYS_dup2];
    pub(super) const FILES: &[i64] = &[
        libc::SYS_mkdir,
        libc::SYS_rmdir,
        libc::SYS_rename,
        libc::SYS_renameat,
        libc::SYS_unlink,
        libc::SYS_access,
        libc::SYS_readlink,
    ];
    pub(super) const READ_TREE: &[i64] = &[libc::SYS_access, libc::SYS_readlink];
    /// Never allowed, on top of the common list.
    #[cfg(test)]
    pub(super) const NEVER: &[i64] = &[
        libc::SYS_fork,
        libc::SYS_vfork,
        libc::SYS_uselib,
        libc::SYS_iopl,
        libc::SYS_ioperm,
    ];
}

#[cfg(target_arch = "aarch64")]
mod arch {
    pub(super) const TARGET: seccompiler::TargetArch = seccompiler::TargetArch::aarch64;
    pub(super) const BASE: &[i64] = &[];
    pub(super) const FILES: &[i64] = &[];
    pub(super) const READ_TREE: &[i64] = &[];
    #[cfg(test)]
    pub(super) const NEVER: &[i64] = &[];
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("moxd's seccomp allowlists exist for x86_64 and aarch64 only");

/// Every role: tokio multi-threaded runtime (epoll, eventfd, futex, thread
/// stacks, signals, timers), tracing to stderr, unix-socket IPC with
/// SCM_RIGHTS, reading and mapping received fds (memfd message bodies).
/// `openat` is here because landlock, not seccomp, decides which paths open.
const BASE: &[i64] = &[
    // fd I/O
    libc::SYS_read,
    libc::SYS_write,
    libc::SYS_readv,
    libc::SYS_writev,
    libc::SYS_pread64,
    libc::SYS_lseek,
    libc::SYS_close,
    libc::SYS_fstat,
    libc::SYS_newfstatat,
    libc::SYS_statx,
    libc::SYS_fcntl,
    libc::SYS_dup,
    libc::SYS_dup3,
    libc::SYS_openat,
    libc::SYS_memfd_create,
    libc::SYS_copy_file_range,
    libc::SYS_sendfile,
    libc::SYS_splice,
    libc::SYS_pipe2,
    // memory
    libc::SYS_mmap,
    libc::SYS_munmap,
    libc::SYS_mprotect,
    libc::SYS_madvise,
    libc::SYS_mremap,
    libc::SYS_brk,
    // threads (clone is flag-checked below; clone3 is answered by its own filter)
    libc::SYS_clone3,
    libc::SYS_futex,
    libc::SYS_set_robust_list,
    libc::SYS_set_tid_address,
    libc::SYS_rseq,
    libc::SYS_sched_yield,
    libc::SYS_sched_getaffinity,
    libc::SYS_exit,
    libc::SYS_exit_group,
    libc::SYS_restart_syscall,
    // signals
    libc::SYS_rt_sigaction,
    libc::SYS_rt_sigprocmask,
    libc::SYS_rt_sigreturn,
    libc::SYS_sigaltstack,
    // time, randomness, identity
    libc::SYS_clock_gettime,
    libc::SYS_clock_getres,
    libc::SYS_clock_nanosleep,
    libc::SYS_nanosleep,
    libc::SYS_gettimeofday,
    libc::SYS_getrandom,
    libc::SYS_getpid,
    libc::SYS_gettid,
    libc::SYS_getuid,
    libc::SYS_geteuid,
    libc::SYS_getgid,
    libc::SYS_getegid,
    libc::SYS_getcwd,
    libc::SYS_uname,
    // event loop
    libc::SYS_epoll_create1,
    libc::SYS_epoll_ctl,
    libc::SYS_epoll_pwait,
    libc::SYS_epoll_pwait2,
    libc::SYS_eventfd2,
    libc::SYS_ppoll,
    // unix-socket IPC
    libc::SYS_sendmsg,
    libc::SYS_recvmsg,
    libc::SYS_sendto,
    libc::SYS_recvfrom,
    libc::SYS_getsockopt,
    libc::SYS_setsockopt,
    libc::SYS_getsockname,
    libc::SYS_getpeername,
    libc::SYS_shutdown,
];

/// The store: SQLite in WAL mode and message files under the data dir.
const FILES: &[i64] = &[
    libc::SYS_mkdirat,
    libc::SYS_unlinkat,
    libc::SYS_renameat2,
    // IMAP COPY shares a message file between mailboxes (hard link).
    libc::SYS_linkat,
    libc::SYS_fsync,
    libc::SYS_fdatasync,
    libc::SYS_ftruncate,
    libc::SYS_fallocate,
    libc::SYS_flock,
    libc::SYS_pwrite64,
    libc::SYS_pwritev,
    libc::SYS_preadv,
    libc::SYS_getdents64,
    libc::SYS_fchmod,
    libc::SYS_faccessat,
    libc::SYS_faccessat2,
    libc::SYS_readlinkat,
    libc::SYS_utimensat,
    libc::SYS_statfs,
    libc::SYS_fstatfs,
];

/// Roles that read read-only trees (resolver files, TLS trust anchors).
const READ_TREE: &[i64] = &[
    libc::SYS_getdents64,
    libc::SYS_readlinkat,
    libc::SYS_faccessat,
    libc::SYS_faccessat2,
];

/// Roles with listening sockets (passed in by the master).
const ACCEPT: &[i64] = &[libc::SYS_accept4];

/// Roles that reach out (DNS, SMTP delivery, HTTPS). `bind` is for UDP
/// resolvers that pick a random source port; landlock denies TCP binds.
const CONNECT: &[i64] = &[libc::SYS_connect, libc::SYS_bind];

/// Never on any list (checked by a test): exec, tracing other processes,
/// mounts, id changes, kernel objects that widen the attack surface.
pub const NEVER_ALLOWED: &[i64] = &[
    libc::SYS_execve,
    libc::SYS_execveat,
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_setuid,
    libc::SYS_setgid,
    libc::SYS_setreuid,
    libc::SYS_setregid,
    libc::SYS_setresuid,
    libc::SYS_setresgid,
    libc::SYS_setgroups,
    libc::SYS_setfsuid,
    libc::SYS_setfsgid,
    libc::SYS_capset,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_reboot,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_userfaultfd,
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    libc::SYS_personality,
    libc::SYS_seccomp,
    libc::SYS_landlock_create_ruleset,
    libc::SYS_landlock_add_rule,
    libc::SYS_landlock_restrict_self,
    libc::SYS_kill,
    libc::SYS_tkill,
    libc::SYS_pidfd_open,
    libc::SYS_pidfd_send_signal,
    libc::SYS_pidfd_getfd,
    libc::SYS_fsopen,
    libc::SYS_fsmount,
    libc::SYS_open_tree,
    libc::SYS_move_mount,
    libc::SYS_fanotify_init,
    libc::SYS_listen,
];

/// Clone flags that create namespaces; never allowed.
const CLONE_NAMESPACES: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWCGROUP) as u64;
/// What makes a clone a thread of this process (glibc's pthread_create).
const CLONE_THREAD_FLAGS: u64 = (libc::CLONE_THREAD | libc::CLONE_VM) as u64;

/// prctl options a worker may use after the sandbox: thread names (std
/// names tokio's threads), anonymous mapping names (glibc), and reads.
/// PR_SET_DUMPABLE in particular is not here.
const PRCTL_OPTIONS: &[libc::c_int] = &[
    libc::PR_SET_NAME,
    libc::PR_GET_NAME,
    libc::PR_SET_VMA,
    libc::PR_GET_SECCOMP,
    libc::PR_GET_NO_NEW_PRIVS,
    libc::PR_GET_DUMPABLE,
    libc::PR_CAPBSET_READ,
];

/// ioctl requests: non-blocking and close-on-exec switches, bytes
/// readable, and the terminal queries behind isatty(). Not TIOCSTI.
const IOCTL_REQUESTS: &[libc::c_ulong] = &[
    libc::FIONBIO,
    libc::FIOCLEX,
    libc::FIONCLEX,
    libc::FIONREAD,
    libc::TCGETS,
    libc::TIOCGWINSZ,
];

/// Address families outbound roles may open: unix (IPC), IPv4, IPv6.
const SOCKET_DOMAINS: &[libc::c_int] = &[libc::AF_UNIX, libc::AF_INET, libc::AF_INET6];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Group {
    Base,
    Files,
    ReadTree,
    Accept,
    Connect,
}

fn groups(role: Role) -> &'static [Group] {
    use Group::*;
    match role {
        Role::Store => &[Base, Files],
        Role::SmtpIn | Role::Submission | Role::Web => &[Base, ReadTree, Accept, Connect],
        Role::Queue => &[Base, ReadTree, Connect],
        // IMAP: smtp-in's rights minus outbound connections and the
        // resolver files it reads; APPEND data goes to the store in memory
        // files (memfd_create, fcntl seals: Base), contents come back as
        // descriptors it reads (pread64: Base).
        Role::Imap => &[Base, Accept],
        Role::Junk => &[Base],
    }
}

fn plain(group: Group) -> impl Iterator<Item = i64> {
    let (common, per_arch): (&[i64], &[i64]) = match group {
        Group::Base => (BASE, arch::BASE),
        Group::Files => (FILES, arch::FILES),
        Group::ReadTree => (READ_TREE, arch::READ_TREE),
        Group::Accept => (ACCEPT, &[]),
        Group::Connect => (CONNECT, &[]),
    };
    common.iter().chain(per_arch).copied()
}

type Rules = BTreeMap<i64, Vec<SeccompRule>>;

fn backend(e: seccompiler::BackendError) -> SandboxError {
    SandboxError::Failed(format!("building the seccomp filter: {e}"))
}

fn cond(arg: u8, op: SeccompCmpOp, value: u64) -> Result<SeccompCondition, SandboxError> {
    SeccompCondition::new(arg, SeccompCmpArgLen::Dword, op, value).map_err(backend)
}

/// One rule per value: argument `arg` equals any of `values`.
fn any_of(
    arg: u8,
    values: impl IntoIterator<Item = u64>,
) -> Result<Vec<SeccompRule>, SandboxError> {
    values
        .into_iter()
        .map(|v| SeccompRule::new(vec![cond(arg, SeccompCmpOp::Eq, v)?]).map_err(backend))
        .collect()
}

/// The syscalls allowed only with certain arguments, for every role.
fn base_conditional(rules: &mut Rules) -> Result<(), SandboxError> {
    // clone(flags, ...): a thread, never a process or namespace.
    let thread_only = cond(
        0,
        SeccompCmpOp::MaskedEq(CLONE_THREAD_FLAGS | CLONE_NAMESPACES),
        CLONE_THREAD_FLAGS,
    )?;
    rules.insert(
        libc::SYS_clone,
        vec![SeccompRule::new(vec![thread_only]).map_err(backend)?],
    );
    rules.insert(libc::SYS_socketpair, any_of(0, [libc::AF_UNIX as u64])?);
    rules.insert(
        libc::SYS_prctl,
        any_of(0, PRCTL_OPTIONS.iter().map(|&o| o as u64))?,
    );
    rules.insert(libc::SYS_ioctl, any_of(1, IOCTL_REQUESTS.iter().copied())?);
    // tgkill(own pid, tid, sig): raise() and abort() within this process.
    rules.insert(
        libc::SYS_tgkill,
        any_of(0, [u64::from(std::process::id())])?,
    );
    // prlimit64(0, resource, NULL, old): read own limits only.
    let read_own_limits = vec![cond(0, SeccompCmpOp::Eq, 0)?, cond(2, SeccompCmpOp::Eq, 0)?];
    rules.insert(
        libc::SYS_prlimit64,
        vec![SeccompRule::new(read_own_limits).map_err(backend)?],
    );
    Ok(())
}

fn allowlist_rules(role: Role) -> Result<Rules, SandboxError> {
    let mut rules = Rules::new();
    for &group in groups(role) {
        for nr in plain(group) {
            rules.insert(nr, Vec::new());
        }
        match group {
            Group::Base => base_conditional(&mut rules)?,
            Group::Connect => {
                rules.insert(
                    libc::SYS_socket,
                    any_of(0, SOCKET_DOMAINS.iter().map(|&d| d as u64))?,
                );
            }
            Group::Files | Group::ReadTree | Group::Accept => {}
        }
    }
    Ok(rules)
}

/// The syscall numbers `role` may call at all (some only with certain
/// arguments), sorted.
pub fn allowed_syscalls(role: Role) -> Result<Vec<i64>, SandboxError> {
    Ok(allowlist_rules(role)?.into_keys().collect())
}

/// The two programs of a role, compiled before anything is applied.
pub(crate) struct Filters {
    clone3_enosys: BpfProgram,
    allowlist: BpfProgram,
}

pub(crate) fn build(role: Role) -> Result<Filters, SandboxError> {
    let compile = |f: SeccompFilter| {
        BpfProgram::try_from(f)
            .map_err(|e| SandboxError::Failed(format!("compiling the seccomp filter: {e}")))
    };
    let clone3 = SeccompFilter::new(
        Rules::from([(libc::SYS_clone3, Vec::new())]),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch::TARGET,
    )
    .map_err(backend)?;
    let allowlist = SeccompFilter::new(
        allowlist_rules(role)?,
        SeccompAction::Errno(libc::EPERM as u32),
        SeccompAction::Allow,
        arch::TARGET,
    )
    .map_err(backend)?;
    Ok(Filters {
        clone3_enosys: compile(clone3)?,
        allowlist: compile(allowlist)?,
    })
}

/// Install both filters on the calling thread (and the threads it starts
/// later). The clone3 filter goes first: the allowlist forbids `seccomp`.
pub(crate) fn apply(filters: &Filters) -> FeatureState {
    for (name, prog) in [
        ("clone3", &filters.clone3_enosys),
        ("allowlist", &filters.allowlist),
    ] {
        if let Err(e) = seccompiler::apply_filter(prog) {
            return FeatureState::Missing(format!(
                "installing the {name} seccomp filter failed: {e}"
            ));
        }
    }
    FeatureState::Enforced
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_syscalls_are_on_no_list() {
        for role in Role::ALL {
            let allowed = allowed_syscalls(role).expect("rules build");
            for nr in NEVER_ALLOWED.iter().chain(arch::NEVER) {
                assert!(
                    !allowed.contains(nr),
                    "{role} allows forbidden syscall {nr}"
                );
            }
        }
    }

    #[test]
    fn every_role_compiles_to_bpf() {
        for role in Role::ALL {
            let f = build(role).expect("filter compiles");
            assert!(
                f.allowlist.len() > 50,
                "{role}: {} instructions",
                f.allowlist.len()
            );
            assert!(!f.clone3_enosys.is_empty());
        }
    }

    #[test]
    fn roles_differ_where_the_role_table_says() {
        let store = allowed_syscalls(Role::Store).expect("rules");
        let imap = allowed_syscalls(Role::Imap).expect("rules");
        let queue = allowed_syscalls(Role::Queue).expect("rules");
        let junk = allowed_syscalls(Role::Junk).expect("rules");
        // Only the store renames, links and fsyncs.
        for nr in [
            libc::SYS_renameat2,
            libc::SYS_fsync,
            libc::SYS_unlinkat,
            libc::SYS_linkat,
        ] {
            assert!(store.contains(&nr));
            assert!(!imap.contains(&nr) && !queue.contains(&nr) && !junk.contains(&nr));
        }
        // Nobody but outbound roles opens sockets or connects.
        for nr in [libc::SYS_socket, libc::SYS_connect] {
            assert!(queue.contains(&nr));
            assert!(!store.contains(&nr) && !imap.contains(&nr) && !junk.contains(&nr));
        }
        assert!(imap.contains(&libc::SYS_accept4) && !queue.contains(&libc::SYS_accept4));
        // The imap worker spools APPEND data in sealed memory files and
        // reads message files by offset, but never reads directories.
        for nr in [libc::SYS_memfd_create, libc::SYS_fcntl, libc::SYS_pread64] {
            assert!(imap.contains(&nr), "imap needs syscall {nr}");
        }
        for nr in [libc::SYS_getdents64, libc::SYS_bind, libc::SYS_listen] {
            assert!(!imap.contains(&nr), "imap must not have syscall {nr}");
        }
        assert!(!store.contains(&libc::SYS_accept4));
    }

    #[test]
    fn clone_prctl_and_ioctl_carry_argument_rules() {
        let rules = allowlist_rules(Role::Junk).expect("rules");
        for nr in [
            libc::SYS_clone,
            libc::SYS_prctl,
            libc::SYS_ioctl,
            libc::SYS_tgkill,
            libc::SYS_socketpair,
        ] {
            let r = rules.get(&nr).expect("listed");
            assert!(!r.is_empty(), "syscall {nr} must be argument-checked");
        }
        assert_eq!(rules[&libc::SYS_prctl].len(), PRCTL_OPTIONS.len());
        assert!(!PRCTL_OPTIONS.contains(&libc::PR_SET_DUMPABLE));
        assert!(!IOCTL_REQUESTS.contains(&libc::TIOCSTI));
        // glibc's pthread_create flags pass the clone mask.
        let glibc = (libc::CLONE_VM
            | libc::CLONE_FS
            | libc::CLONE_FILES
            | libc::CLONE_SIGHAND
            | libc::CLONE_THREAD
            | libc::CLONE_SYSVSEM
            | libc::CLONE_SETTLS
            | libc::CLONE_PARENT_SETTID
            | libc::CLONE_CHILD_CLEARTID) as u64;
        assert_eq!(
            glibc & (CLONE_THREAD_FLAGS | CLONE_NAMESPACES),
            CLONE_THREAD_FLAGS
        );
        let fork_like = libc::SIGCHLD as u64;
        assert_ne!(
            fork_like & (CLONE_THREAD_FLAGS | CLONE_NAMESPACES),
            CLONE_THREAD_FLAGS
        );
    }
}
