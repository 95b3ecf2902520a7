//! The connect path: placeholder.
pub fn run(_o: &crate::cli::ConnectOpts, _s: crate::sshargs::SshArgs) -> anyhow::Result<u8> {
    anyhow::bail!("connect: not built yet")
}
