use cevm::{AllocType, Handle, Protection};
fn main() {
    let (_k, mut t, app) = cevm_bench::cases::world(128);
    let src = t
        .virtual_alloc(0, 4096 * 4096, AllocType::COMMIT, Protection::READWRITE)
        .unwrap();
    let nk = Handle::from(t.kernel().kernel_pid());
    for _ in 0..20000 {
        let p = t
            .virtual_alloc_copy_ex(
                app.into(),
                Handle::NULL,
                src,
                4096 * 4096,
                Protection::READWRITE,
            )
            .unwrap();
        t.virtual_free_ex(nk, p & !0xFFFF, 0, AllocType::RELEASE)
            .unwrap();
    }
}
