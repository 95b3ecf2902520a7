//! `ssso status`: placeholder until the local-side module lands.
pub fn run(_a: &crate::cli::StatusArgs) -> anyhow::Result<u8> {
    anyhow::bail!("status: not built yet")
}
