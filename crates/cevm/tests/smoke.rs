mod common;

use cevm::ErrorCode;
use common::{COMMIT, RW, World, assert_fails};

#[test]
fn world_boots_and_a_user_commit_lands_at_0x10000() {
    let mut w = World::new();
    w.user(w.app);
    let b = w.t.virtual_alloc(0, 0x1000, COMMIT, RW).unwrap();
    assert_eq!(b, 0x10000);
    w.check();
    assert_fails(
        w.t.virtual_alloc(0, 0, COMMIT, RW),
        (ErrorCode::InvalidParameter, "5.1.3"),
        &w,
    );
}
