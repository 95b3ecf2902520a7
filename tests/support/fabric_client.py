"""A fabric user, for tests/clients.rs: `fabric.Connection(ALIAS).run(COMMAND)` with CONFIG as
fabric's ssh config file (fabric reads HostName, Port, User, IdentityFile and ProxyCommand from
it through paramiko), checking the host key against KNOWN_HOSTS.

    fabric_client.py CONFIG KNOWN_HOSTS ALIAS COMMAND

Prints the remote command's stdout and stderr and exits with its status (255 when fabric or
paramiko fails, with the exception on stderr).
"""
import sys

import fabric
import paramiko


def main():
    cfg_path, known_hosts, alias, command = sys.argv[1:5]
    config = fabric.Config(runtime_ssh_path=cfg_path)
    conn = fabric.Connection(
        alias,
        config=config,
        connect_kwargs={"allow_agent": False, "look_for_keys": False, "banner_timeout": 60},
    )
    print("gateway: %s" % conn.gateway, file=sys.stderr)
    conn.client.load_host_keys(known_hosts)
    conn.client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        result = conn.run(command, hide=True, warn=True, in_stream=False)
    except Exception as e:  # noqa: BLE001 - report whatever fabric raised
        print("fabric: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        return 255
    finally:
        conn.close()
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.exited


if __name__ == "__main__":
    sys.exit(main())
