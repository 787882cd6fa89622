//! Probing host pages without faulting, for the window tests: `process_vm_readv` and
//! `process_vm_writev` on the own process fail with EFAULT on a page the host would not
//! let this process read (or write), instead of raising SIGSEGV.
#![cfg(target_os = "linux")]
#![allow(dead_code)]

/// Whether the byte at `p` can be read.
pub fn can_read(p: *const u8) -> bool {
    read(p).is_some()
}

/// The byte at `p`, if it can be read.
pub fn read(p: *const u8) -> Option<u8> {
    let mut b = 0u8;
    let local = libc::iovec {
        iov_base: (&mut b as *mut u8).cast(),
        iov_len: 1,
    };
    let remote = libc::iovec {
        iov_base: p as *mut _,
        iov_len: 1,
    };
    // SAFETY: the local buffer is one live byte; the remote address is only probed by the
    // host kernel, which reports EFAULT rather than faulting.
    let n = unsafe { libc::process_vm_readv(libc::getpid(), &local, 1, &remote, 1, 0) };
    (n == 1).then_some(b)
}

/// Writes `v` at `p` if the host allows it; returns whether it did.
pub fn write(p: *mut u8, v: u8) -> bool {
    let mut b = v;
    let local = libc::iovec {
        iov_base: (&mut b as *mut u8).cast(),
        iov_len: 1,
    };
    let remote = libc::iovec {
        iov_base: p.cast(),
        iov_len: 1,
    };
    // SAFETY: as in `read`; the host checks the remote page's write permission.
    let n = unsafe { libc::process_vm_writev(libc::getpid(), &local, 1, &remote, 1, 0) };
    n == 1
}

/// Whether the byte at `p` can be written (it is written with its own value).
pub fn can_write(p: *mut u8) -> bool {
    read(p).is_some_and(|v| write(p, v))
}

/// What the host allows at `p`: `(readable, writable)`.
pub fn access(p: *mut u8) -> (bool, bool) {
    (can_read(p), can_write(p))
}

/// The 4 KiB at `p` (page aligned), if all of it can be read.
pub fn read_page(p: *const u8) -> Option<Vec<u8>> {
    let mut b = vec![0u8; 4096];
    let local = libc::iovec {
        iov_base: b.as_mut_ptr().cast(),
        iov_len: b.len(),
    };
    let remote = libc::iovec {
        iov_base: p as *mut _,
        iov_len: 4096,
    };
    // SAFETY: the local buffer is 4096 live bytes; the remote range is only probed.
    let n = unsafe { libc::process_vm_readv(libc::getpid(), &local, 1, &remote, 1, 0) };
    (n == 4096).then_some(b)
}
