fn main() {
    // Build information (git commit, build time, rustc, target) for `qrescue version`.
    shadow_rs::ShadowBuilder::builder()
        .build()
        .expect("shadow-rs build information");
}
