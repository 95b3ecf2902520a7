"""A paramiko user, for tests/clients.rs: runs COMMAND on ALIAS with the settings that the ssh
config file CONFIG gives ALIAS (HostName, Port, User, IdentityFile and ProxyCommand, read and
token-expanded by paramiko's own SSHConfig), checking the host key against KNOWN_HOSTS.

    paramiko_client.py CONFIG KNOWN_HOSTS ALIAS COMMAND

Prints the remote command's stdout and stderr and exits with its status (255 when paramiko
itself fails, with the exception on stderr).
"""
import sys

import paramiko


def main():
    cfg_path, known_hosts, alias, command = sys.argv[1:5]
    conf = paramiko.SSHConfig.from_path(cfg_path).lookup(alias)
    client = paramiko.SSHClient()
    client.load_host_keys(known_hosts)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    sock = None
    if "proxycommand" in conf:
        print("proxycommand: " + conf["proxycommand"], file=sys.stderr)
        sock = paramiko.ProxyCommand(conf["proxycommand"])
    try:
        client.connect(
            conf["hostname"],
            port=int(conf.get("port", 22)),
            username=conf.get("user"),
            key_filename=conf.get("identityfile"),
            sock=sock,
            allow_agent=False,
            look_for_keys=False,
            timeout=30,
            banner_timeout=60,
        )
        _, stdout, stderr = client.exec_command(command)
        out = stdout.read()
        err = stderr.read()
        status = stdout.channel.recv_exit_status()
    except Exception as e:  # noqa: BLE001 - report whatever paramiko raised
        print("paramiko: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        return 255
    finally:
        client.close()
    sys.stdout.buffer.write(out)
    sys.stderr.buffer.write(err)
    return status


if __name__ == "__main__":
    sys.exit(main())
