//! The read-only window onto physical memory that the library shows its users: counts,
//! which frames are free, frame contents, devices. Frames are handed out and referenced
//! only by the calls, so nothing here can change a count.

use crate::consts::PAGE_SIZE;
use crate::kernel::Kernel;
use crate::phys::{Pfn, PhysicalMemory};

/// Physical memory as the host program may see it ([`Kernel::phys`]).
#[derive(Debug, Clone, Copy)]
pub struct Frames<'a>(&'a PhysicalMemory);

impl Kernel {
    /// Physical memory's figures and contents, read-only.
    pub fn phys(&self) -> Frames<'_> {
        Frames(self.memory())
    }
}

impl Frames<'_> {
    /// Number of RAM frames.
    pub fn total_frames(&self) -> usize {
        self.0.total_frames()
    }

    /// Number of free RAM frames (frames still in their grace period count as free).
    pub fn free_frames(&self) -> usize {
        self.0.free_frames()
    }

    /// Physical address of the first RAM byte.
    pub fn ram_base(&self) -> u64 {
        self.0.ram_base()
    }

    /// Whether RAM frame `index` (counted from the first RAM frame) is free.
    pub fn is_free(&self, index: usize) -> bool {
        index < self.0.total_frames() && self.0.is_free(index)
    }

    /// The reference count of every RAM frame, in order.
    pub fn ref_counts(&self) -> Vec<u32> {
        self.0.ref_counts()
    }

    /// `(name, physical address, bytes)` of every registered device.
    pub fn devices(&self) -> Vec<(String, u64, u64)> {
        self.0.devices()
    }

    /// The name of the device frame `pfn` belongs to.
    pub fn device_name(&self, pfn: Pfn) -> Option<String> {
        self.0.device_name(pfn)
    }

    /// A copy of the 4 KiB of frame `pfn` (RAM or device), or `None` for any other frame.
    /// Another host thread may be writing the frame meanwhile; the copy is then torn, as a
    /// DMA read racing a CPU store would be.
    pub fn frame_contents(&self, pfn: Pfn) -> Option<Vec<u8>> {
        let mut v = vec![0u8; PAGE_SIZE as usize];
        self.0.copy_frame(pfn, &mut v).then_some(v)
    }

    /// Test-only fault injection: the `n`-th frame allocation from now (1 = the next) fails
    /// as if RAM were exhausted; `None` turns it off.
    #[cfg(feature = "fault-injection")]
    pub fn fail_nth_allocation(&self, n: Option<u64>) {
        self.0.fail_nth_allocation(n);
    }

    /// Test-only fault injection: the `n`-th host-arena operation from now fails as if
    /// the host refused; `None` turns it off.
    #[cfg(feature = "fault-injection")]
    pub fn fail_nth_host_operation(&self, n: Option<u64>) {
        self.0.fail_nth_host_operation(n);
    }

    /// Whether an injected failure is still waiting to happen.
    #[cfg(feature = "fault-injection")]
    pub fn injection_pending(&self) -> bool {
        self.0.injection_pending()
    }
}
