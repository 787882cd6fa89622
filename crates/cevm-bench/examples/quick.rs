fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let only = std::env::args().nth(1).filter(|a| a != "--quick");
    for f in cevm_bench::run_all(if quick {
        cevm_bench::Scale::Quick
    } else {
        cevm_bench::Scale::Full
    }) {
        if only.as_deref().is_some_and(|o| !f.id.contains(o)) {
            continue;
        }
        println!(
            "{:<22} {:>12.1} ns  base {:>12.1} ns  ratio {:>8.2}  {:?} {:?}  {}",
            f.id,
            f.ns,
            f.baseline_ns,
            f.ratio(),
            f.target,
            f.met,
            f.what
        );
    }
}
