//! The CE calls of interfaces.md §2.1 under their exact names, in CE parameter order with
//! the out-parameters turned into result-map entries.
//!
//! Each handler reads its arguments in order, builds the typed flags with
//! `from_bits_retain` (so invalid bits reach the kernel, which rejects them with the CE
//! error code) and translates the result to CE conventions: 0 / FALSE on failure, the
//! thread's last error set by the library.

use cevm::{
    AllocType, ArgDescriptor, HResult, Handle, LockFlags, PageAttributes, Pid, ProcessAccess,
    Protection,
};
use rhai::{Blob, Dynamic, Map};

use super::binding::{Binding, Call, Outcome};
use super::values::int;

/// Every CE call, one line each.
#[rustfmt::skip]
pub static BINDINGS: &[Binding] = &[
    Binding::ce("VirtualAlloc", &["a", "n", "type", "prot"], "address", virtual_alloc),
    Binding::ce("VirtualAllocEx", &["h", "a", "n", "type", "prot"], "address", virtual_alloc_ex),
    Binding::ce("VirtualFree", &["a", "n", "type"], "bool", virtual_free),
    Binding::ce("VirtualFreeEx", &["h", "a", "n", "type"], "bool", virtual_free_ex),
    Binding::ce("VirtualProtect", &["a", "n", "new"], "#{ret, lpflOldProtect}", virtual_protect),
    Binding::ce("VirtualProtectEx", &["h", "a", "n", "new"], "#{ret, lpflOldProtect}", virtual_protect_ex),
    Binding::ce("VirtualQuery", &["a"], MBI, virtual_query),
    Binding::ce("VirtualQuery", &["a", "len"], MBI, virtual_query_len),
    Binding::ce("VirtualQueryEx", &["h", "a"], MBI, virtual_query_ex),
    Binding::ce("VirtualQueryEx", &["h", "a", "len"], MBI, virtual_query_ex_len),
    Binding::ce("VirtualCopy", &["dst", "src", "n", "prot"], "bool", virtual_copy),
    Binding::ce("VirtualCopyEx", &["hDst", "dst", "hSrc", "src", "n", "prot"], "bool", virtual_copy_ex),
    Binding::ce("VirtualAllocCopyEx", &["hSrc", "hDst", "p", "n", "prot"], "address", virtual_alloc_copy_ex),
    Binding::ce("LockPages", &["a", "n", "flags"], "#{ret, pPFNs}", lock_pages),
    Binding::ce("LockPagesEx", &["h", "a", "n", "flags"], "#{ret, pPFNs}", lock_pages_ex),
    Binding::ce("UnlockPages", &["a", "n"], "bool", unlock_pages),
    Binding::ce("UnlockPagesEx", &["h", "a", "n"], "bool", unlock_pages_ex),
    Binding::ce("AllocPhysMem", &["n", "prot", "align_mask", "flags"], "#{ret, pPhysicalAddress}", alloc_phys_mem),
    Binding::ce("FreePhysMem", &["p"], "bool", free_phys_mem),
    Binding::ce("MmMapIoSpace", &["pa", "n", "cached"], "address", mm_map_io_space),
    Binding::ce("MmUnmapIoSpace", &["p", "n"], "nothing", mm_unmap_io_space),
    Binding::ce("VirtualSetAttributes", &["a", "n", "new", "mask"], "#{ret, lpdwOldFlags}", virtual_set_attributes),
    Binding::ce("VirtualSetAttributesEx", &["h", "a", "n", "new", "mask"], "#{ret, lpdwOldFlags}", virtual_set_attributes_ex),
    Binding::ce("CeVirtualSharedAlloc", &["a", "n", "action"], "address", ce_virtual_shared_alloc),
    Binding::ce("ReadProcessMemory", &["h", "a", "n"], "#{ret, lpBuffer, lpNumberOfBytesRead}", read_process_memory),
    Binding::ce("WriteProcessMemory", &["h", "a", "blob"], "#{ret, lpNumberOfBytesWritten}", write_process_memory),
    Binding::ce("OpenProcess", &["access", "inherit", "pid"], "handle (0 on failure)", open_process),
    Binding::ce("CloseHandle", &["h"], "bool", close_handle),
    Binding::ce("TerminateProcess", &["h", "code"], "bool", terminate_process),
    Binding::ce("GetCurrentProcess", &[], "0x42", get_current_process),
    Binding::ce("GetCurrentProcessId", &[], "id", get_current_process_id),
    Binding::ce("GetCallerVMProcessId", &[], "id", get_caller_vm_process_id),
    Binding::ce("GetDirectCallerProcessId", &[], "id", get_direct_caller_process_id),
    Binding::ce("GetOwnerProcess", &[], "id", get_owner_process),
    Binding::ce("GetCallerProcess", &[], "id (0 possible in user mode)", get_caller_process),
    Binding::ce("CeOpenCallerBuffer", &["pSrc", "cb", "desc", "force"], "#{ret, ppDestMarshalled}", ce_open_caller_buffer),
    Binding::ce("CeCloseCallerBuffer", &["pDest", "pSrc", "cb", "desc"], "HRESULT", ce_close_caller_buffer),
    Binding::ce("CeAllocAsynchronousBuffer", &["pSrc", "cb", "desc"], "#{ret, ppDestAsyncMarshalled}", ce_alloc_asynchronous_buffer),
    Binding::ce("CeFreeAsynchronousBuffer", &["pAsync", "pSrc", "cb", "desc"], "HRESULT", ce_free_asynchronous_buffer),
    Binding::ce("CeFlushAsynchronousBuffer", &["pAsync", "pSrc", "pSrcUnmarshalled", "cb", "desc"], "HRESULT", ce_flush_asynchronous_buffer),
    Binding::ce("CeAllocDuplicateBuffer", &["pSrc", "cb", "desc"], "#{ret, ppDestDuplicate}", ce_alloc_duplicate_buffer),
    Binding::ce("CeFreeDuplicateBuffer", &["pDest", "pSrc", "cb", "desc"], "HRESULT", ce_free_duplicate_buffer),
    Binding::ce("GetLastError", &[], "int", get_last_error),
    Binding::ce("SetLastError", &["e"], "nothing", set_last_error),
    Binding::ce("GetSystemInfo", &[], "#{dwPageSize, …}", get_system_info),
    Binding::ce("GlobalMemoryStatus", &[], "#{dwLength, dwMemoryLoad, …}", global_memory_status),
];

const MBI: &str =
    "#{ret, BaseAddress, AllocationBase, AllocationProtect, RegionSize, State, Protect, Type}";

// ---- CE conventions -------------------------------------------------------------------

fn prot(bits: u32) -> Protection {
    Protection::from_bits_retain(bits)
}

fn alloc_type(bits: u32) -> AllocType {
    AllocType::from_bits_retain(bits)
}

fn handle(v: u32) -> Handle {
    Handle(v)
}

/// A pointer result: the address, or 0 (NULL) on failure.
fn address(r: cevm::Result<u32>) -> Dynamic {
    int(r.unwrap_or(0))
}

/// A BOOL result.
fn succeeded<T>(r: &cevm::Result<T>) -> Dynamic {
    Dynamic::from_bool(r.is_ok())
}

/// `#{ret, out1, out2, …}`.
fn with_out_params<const N: usize>(ret: Dynamic, outs: [(&str, Dynamic); N]) -> Dynamic {
    let mut m = Map::new();
    m.insert("ret".into(), ret);
    for (k, v) in outs {
        m.insert(k.into(), v);
    }
    m.into()
}

// ---- Virtual* ---------------------------------------------------------------------------

fn virtual_alloc(c: &mut Call<'_>) -> Outcome {
    let (a, n, t, p) = (c.dword()?, c.dword()?, c.dword()?, c.dword()?);
    Ok(address(c.thread().virtual_alloc(
        a,
        n,
        alloc_type(t),
        prot(p),
    )))
}

fn virtual_alloc_ex(c: &mut Call<'_>) -> Outcome {
    let (h, a, n, t, p) = (c.dword()?, c.dword()?, c.dword()?, c.dword()?, c.dword()?);
    let r = c
        .thread()
        .virtual_alloc_ex(handle(h), a, n, alloc_type(t), prot(p));
    Ok(address(r))
}

fn virtual_free(c: &mut Call<'_>) -> Outcome {
    let (a, n, t) = (c.dword()?, c.dword()?, c.dword()?);
    Ok(succeeded(&c.thread().virtual_free(a, n, alloc_type(t))))
}

fn virtual_free_ex(c: &mut Call<'_>) -> Outcome {
    let (h, a, n, t) = (c.dword()?, c.dword()?, c.dword()?, c.dword()?);
    Ok(succeeded(&c.thread().virtual_free_ex(
        handle(h),
        a,
        n,
        alloc_type(t),
    )))
}

/// lpflOldProtect is never NULL from a script, so the typed call is the CE call.
fn protect_result(r: cevm::Result<Protection>) -> Dynamic {
    let old = r.as_ref().map_or(0, |p| p.bits());
    with_out_params(succeeded(&r), [("lpflOldProtect", int(old))])
}

fn virtual_protect(c: &mut Call<'_>) -> Outcome {
    let (a, n, new) = (c.dword()?, c.dword()?, c.dword()?);
    Ok(protect_result(c.thread().virtual_protect(a, n, prot(new))))
}

fn virtual_protect_ex(c: &mut Call<'_>) -> Outcome {
    let (h, a, n, new) = (c.dword()?, c.dword()?, c.dword()?, c.dword()?);
    Ok(protect_result(c.thread().virtual_protect_ex(
        handle(h),
        a,
        n,
        prot(new),
    )))
}

/// MEMORY_BASIC_INFORMATION: the fields only when the call wrote them.
fn query_result(r: cevm::Result<cevm::MemoryInfo>) -> Dynamic {
    let Ok(i) = r else {
        return with_out_params(int(0), []);
    };
    with_out_params(
        int(cevm::consts::MEMORY_BASIC_INFORMATION_SIZE),
        [
            ("BaseAddress", int(i.base_address)),
            ("AllocationBase", int(i.allocation_base)),
            ("AllocationProtect", int(i.allocation_protect.bits())),
            ("RegionSize", int(i.region_size)),
            ("State", int(i.state.bits())),
            ("Protect", int(i.protect.bits())),
            ("Type", int(i.kind.bits())),
        ],
    )
}

const MBI_LEN: u32 = cevm::consts::MEMORY_BASIC_INFORMATION_SIZE;

fn virtual_query(c: &mut Call<'_>) -> Outcome {
    let a = c.dword()?;
    Ok(query_result(c.thread().virtual_query(a, MBI_LEN)))
}

fn virtual_query_len(c: &mut Call<'_>) -> Outcome {
    let (a, len) = (c.dword()?, c.dword()?);
    Ok(query_result(c.thread().virtual_query(a, len)))
}

fn virtual_query_ex(c: &mut Call<'_>) -> Outcome {
    let (h, a) = (c.dword()?, c.dword()?);
    Ok(query_result(c.thread().virtual_query_ex(
        handle(h),
        a,
        MBI_LEN,
    )))
}

fn virtual_query_ex_len(c: &mut Call<'_>) -> Outcome {
    let (h, a, len) = (c.dword()?, c.dword()?, c.dword()?);
    Ok(query_result(c.thread().virtual_query_ex(handle(h), a, len)))
}

fn virtual_copy(c: &mut Call<'_>) -> Outcome {
    let (dst, src, n, p) = (c.dword()?, c.dword()?, c.dword()?, c.dword()?);
    Ok(succeeded(&c.thread().virtual_copy(dst, src, n, prot(p))))
}

fn virtual_copy_ex(c: &mut Call<'_>) -> Outcome {
    let (h_dst, dst) = (c.dword()?, c.dword()?);
    let (h_src, src, n, p) = (c.dword()?, c.dword()?, c.dword()?, c.dword()?);
    let r = c
        .thread()
        .virtual_copy_ex(handle(h_dst), dst, handle(h_src), src, n, prot(p));
    Ok(succeeded(&r))
}

fn virtual_alloc_copy_ex(c: &mut Call<'_>) -> Outcome {
    let (h_src, h_dst, p, n, pr) = (c.dword()?, c.dword()?, c.dword()?, c.dword()?, c.dword()?);
    let r = c
        .thread()
        .virtual_alloc_copy_ex(handle(h_src), handle(h_dst), p, n, prot(pr));
    Ok(address(r))
}

// ---- Locking, physical and device memory, attributes, the shared heap --------------------

fn lock_result(r: cevm::Result<Vec<u64>>) -> Dynamic {
    let pfns: rhai::Array = r
        .as_ref()
        .map(|v| v.iter().map(|&pa| Dynamic::from_int(pa as i64)).collect())
        .unwrap_or_default();
    with_out_params(succeeded(&r), [("pPFNs", pfns.into())])
}

fn lock_pages(c: &mut Call<'_>) -> Outcome {
    let (a, n, f) = (c.dword()?, c.dword()?, c.dword()?);
    let r = c.thread().lock_pages(a, n, LockFlags::from_bits_retain(f));
    Ok(lock_result(r))
}

fn lock_pages_ex(c: &mut Call<'_>) -> Outcome {
    let (h, a, n, f) = (c.dword()?, c.dword()?, c.dword()?, c.dword()?);
    let r = c
        .thread()
        .lock_pages_ex(handle(h), a, n, LockFlags::from_bits_retain(f));
    Ok(lock_result(r))
}

fn unlock_pages(c: &mut Call<'_>) -> Outcome {
    let (a, n) = (c.dword()?, c.dword()?);
    Ok(succeeded(&c.thread().unlock_pages(a, n)))
}

fn unlock_pages_ex(c: &mut Call<'_>) -> Outcome {
    let (h, a, n) = (c.dword()?, c.dword()?, c.dword()?);
    Ok(succeeded(&c.thread().unlock_pages_ex(handle(h), a, n)))
}

/// pPhysicalAddress is never NULL from a script, so the typed call is the CE call.
fn alloc_phys_mem(c: &mut Call<'_>) -> Outcome {
    let (n, p, align_mask, flags) = (c.dword()?, c.dword()?, c.dword()?, c.dword()?);
    let r = c.thread().alloc_phys_mem(n, prot(p), align_mask, flags);
    let (va, pa) = r.unwrap_or((0, 0));
    Ok(with_out_params(
        int(va),
        [("pPhysicalAddress", Dynamic::from_int(pa as i64))],
    ))
}

fn free_phys_mem(c: &mut Call<'_>) -> Outcome {
    let p = c.dword()?;
    Ok(succeeded(&c.thread().free_phys_mem(p)))
}

/// `pa` is a PHYSICAL_ADDRESS (64 bits in CE), so it is not wrapped to a DWORD.
fn mm_map_io_space(c: &mut Call<'_>) -> Outcome {
    let (pa, n, cached) = (c.wide()?, c.dword()?, c.boolean()?);
    Ok(address(c.thread().mm_map_io_space(pa, n, cached)))
}

fn mm_unmap_io_space(c: &mut Call<'_>) -> Outcome {
    let (p, n) = (c.dword()?, c.dword()?);
    let _ = c.thread().mm_unmap_io_space(p, n);
    Ok(Dynamic::UNIT)
}

fn attributes_result(r: cevm::Result<PageAttributes>) -> Dynamic {
    let old = r.as_ref().map_or(0, |a| a.bits());
    with_out_params(succeeded(&r), [("lpdwOldFlags", int(old))])
}

fn virtual_set_attributes(c: &mut Call<'_>) -> Outcome {
    let (a, n, new, mask) = (c.dword()?, c.dword()?, c.dword()?, c.dword()?);
    let r = c.thread().virtual_set_attributes(
        a,
        n,
        PageAttributes::from_bits_retain(new),
        PageAttributes::from_bits_retain(mask),
    );
    Ok(attributes_result(r))
}

fn virtual_set_attributes_ex(c: &mut Call<'_>) -> Outcome {
    let (h, a, n) = (c.dword()?, c.dword()?, c.dword()?);
    let (new, mask) = (c.dword()?, c.dword()?);
    let r = c.thread().virtual_set_attributes_ex(
        handle(h),
        a,
        n,
        PageAttributes::from_bits_retain(new),
        PageAttributes::from_bits_retain(mask),
    );
    Ok(attributes_result(r))
}

fn ce_virtual_shared_alloc(c: &mut Call<'_>) -> Outcome {
    let (a, n, action) = (c.dword()?, c.dword()?, c.dword()?);
    Ok(address(c.thread().ce_virtual_shared_alloc(
        a,
        n,
        alloc_type(action),
    )))
}

// ---- Other processes' memory ------------------------------------------------------------

/// lpBuffer holds the bytes read: all of them on success, none on failure (the copy is
/// all or nothing).
fn read_process_memory(c: &mut Call<'_>) -> Outcome {
    let (h, a, n) = (c.dword()?, c.dword()?, c.dword()?);
    let r = c.thread().read_process_memory(handle(h), a, n);
    let ok = succeeded(&r);
    let buf: Blob = r.unwrap_or_default();
    let done = buf.len() as u32;
    Ok(with_out_params(
        ok,
        [
            ("lpBuffer", Dynamic::from_blob(buf)),
            ("lpNumberOfBytesRead", int(done)),
        ],
    ))
}

fn write_process_memory(c: &mut Call<'_>) -> Outcome {
    let (h, a, data) = (c.dword()?, c.dword()?, c.blob()?);
    let r = c.thread().write_process_memory(handle(h), a, &data);
    let done = r.as_ref().map_or(0, |&n| n as u32);
    Ok(with_out_params(
        succeeded(&r),
        [("lpNumberOfBytesWritten", int(done))],
    ))
}

// ---- Processes and handles ----------------------------------------------------------------

fn open_process(c: &mut Call<'_>) -> Outcome {
    let (access, inherit, pid) = (c.dword()?, c.boolean()?, c.dword()?);
    let r = c
        .thread()
        .open_process(ProcessAccess::from_bits_retain(access), inherit, Pid(pid));
    Ok(int(r.map_or(0, |h| h.0)))
}

fn close_handle(c: &mut Call<'_>) -> Outcome {
    let h = c.dword()?;
    Ok(succeeded(&c.thread().close_handle(handle(h))))
}

fn terminate_process(c: &mut Call<'_>) -> Outcome {
    let (h, code) = (c.dword()?, c.dword()?);
    Ok(succeeded(&c.thread().terminate_process(handle(h), code)))
}

fn get_current_process(_: &mut Call<'_>) -> Outcome {
    Ok(int(Handle::CURRENT_PROCESS.0))
}

fn get_current_process_id(c: &mut Call<'_>) -> Outcome {
    Ok(int(c.thread().current_process_id().0))
}

fn get_caller_vm_process_id(c: &mut Call<'_>) -> Outcome {
    Ok(int(c.thread().caller_vm_process_id().0))
}

fn get_direct_caller_process_id(c: &mut Call<'_>) -> Outcome {
    Ok(int(c.thread().direct_caller_process_id().0))
}

fn get_owner_process(c: &mut Call<'_>) -> Outcome {
    Ok(int(c.thread().owner_process().0))
}

fn get_caller_process(c: &mut Call<'_>) -> Outcome {
    Ok(int(c.thread().caller_process()))
}

// ---- The marshalling helpers (semantics.md §7) -------------------------------------------

/// `#{ret, <out>}` with the out-pointer only when the helper wrote it.
fn marshalled(r: Result<u32, cevm::MarshalFailure>, out: &str) -> Dynamic {
    let (hr, written) = match r {
        Ok(p) => (HResult::S_OK, Some(p)),
        Err(f) => (f.hr, f.written),
    };
    let mut m = Map::new();
    m.insert("ret".into(), int(hr.0));
    if let Some(p) = written {
        m.insert(out.into(), int(p));
    }
    m.into()
}

fn hresult(r: Result<(), HResult>) -> Dynamic {
    int(r.err().unwrap_or(HResult::S_OK).0)
}

fn ce_open_caller_buffer(c: &mut Call<'_>) -> Outcome {
    let (src, cb, desc, force) = (c.dword()?, c.dword()?, c.dword()?, c.boolean()?);
    let r = c
        .thread()
        .ce_open_caller_buffer(src, cb, ArgDescriptor(desc), force);
    Ok(marshalled(r, "ppDestMarshalled"))
}

fn ce_close_caller_buffer(c: &mut Call<'_>) -> Outcome {
    let (dest, src, cb, desc) = (c.dword()?, c.dword()?, c.dword()?, c.dword()?);
    let r = c
        .thread()
        .ce_close_caller_buffer(dest, src, cb, ArgDescriptor(desc));
    Ok(hresult(r))
}

fn ce_alloc_asynchronous_buffer(c: &mut Call<'_>) -> Outcome {
    let (src, cb, desc) = (c.dword()?, c.dword()?, c.dword()?);
    let r = c
        .thread()
        .ce_alloc_asynchronous_buffer(src, cb, ArgDescriptor(desc));
    Ok(marshalled(r, "ppDestAsyncMarshalled"))
}

fn ce_free_asynchronous_buffer(c: &mut Call<'_>) -> Outcome {
    let (p, src, cb, desc) = (c.dword()?, c.dword()?, c.dword()?, c.dword()?);
    let r = c
        .thread()
        .ce_free_asynchronous_buffer(p, src, cb, ArgDescriptor(desc));
    Ok(hresult(r))
}

fn ce_flush_asynchronous_buffer(c: &mut Call<'_>) -> Outcome {
    let (p, src, unmarshalled) = (c.dword()?, c.dword()?, c.dword()?);
    let (cb, desc) = (c.dword()?, c.dword()?);
    let r = c
        .thread()
        .ce_flush_asynchronous_buffer(p, src, unmarshalled, cb, ArgDescriptor(desc));
    Ok(hresult(r))
}

fn ce_alloc_duplicate_buffer(c: &mut Call<'_>) -> Outcome {
    let (src, cb, desc) = (c.dword()?, c.dword()?, c.dword()?);
    let r = c
        .thread()
        .ce_alloc_duplicate_buffer(src, cb, ArgDescriptor(desc));
    Ok(marshalled(r, "ppDestDuplicate"))
}

fn ce_free_duplicate_buffer(c: &mut Call<'_>) -> Outcome {
    let (dest, src, cb, desc) = (c.dword()?, c.dword()?, c.dword()?, c.dword()?);
    let r = c
        .thread()
        .ce_free_duplicate_buffer(dest, src, cb, ArgDescriptor(desc));
    Ok(hresult(r))
}

fn get_last_error(c: &mut Call<'_>) -> Outcome {
    Ok(int(c.thread().last_error()))
}

fn set_last_error(c: &mut Call<'_>) -> Outcome {
    let e = c.dword()?;
    c.thread().set_last_error(e);
    Ok(Dynamic::UNIT)
}

// ---- System information -----------------------------------------------------------------

fn struct_map<const N: usize>(fields: [(&str, u32); N]) -> Dynamic {
    let m: Map = fields
        .into_iter()
        .map(|(k, v)| (k.into(), int(v)))
        .collect();
    m.into()
}

fn get_system_info(c: &mut Call<'_>) -> Outcome {
    let s = c.thread().get_system_info();
    Ok(struct_map([
        (
            "wProcessorArchitecture",
            u32::from(s.processor_architecture),
        ),
        ("dwPageSize", s.page_size),
        ("lpMinimumApplicationAddress", s.minimum_application_address),
        ("lpMaximumApplicationAddress", s.maximum_application_address),
        ("dwActiveProcessorMask", s.active_processor_mask),
        ("dwNumberOfProcessors", s.number_of_processors),
        ("dwProcessorType", s.processor_type),
        ("dwAllocationGranularity", s.allocation_granularity),
    ]))
}

fn global_memory_status(c: &mut Call<'_>) -> Outcome {
    let s = c.thread().global_memory_status();
    Ok(struct_map([
        ("dwLength", s.length),
        ("dwMemoryLoad", s.memory_load),
        ("dwTotalPhys", s.total_phys),
        ("dwAvailPhys", s.avail_phys),
        ("dwTotalPageFile", s.total_page_file),
        ("dwAvailPageFile", s.avail_page_file),
        ("dwTotalVirtual", s.total_virtual),
        ("dwAvailVirtual", s.avail_virtual),
    ]))
}
