fn main() {
    // Build information (git commit, build time, rustc, target) for `qrescue version`.
    shadow_rs::ShadowBuilder::builder()
        .build()
        .expect("shadow-rs build information");

    // ARMv4T/ARMv5TE (QNAP arm-x19) have no atomic instructions: src/sys/arm_kuser.rs
    // provides the `__sync_*` functions LLVM calls there (see its module comment).
    println!("cargo::rustc-check-cfg=cfg(arm_kuser_atomics)");
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.starts_with("armv5te-") || target.starts_with("armv4t-") {
        println!("cargo::rustc-cfg=arm_kuser_atomics");
    }
}
