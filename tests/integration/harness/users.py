"""Running server processes as a non-root user. initdb, postgres and
pgbouncer refuse to run as root; when the tests run as root (CI, containers)
they run as the `postgres` system user that postgresql-common creates."""
import os
import pwd

SERVER_USER = "postgres"


def running_as_root() -> bool:
    return os.geteuid() == 0


def popen_user_kwargs() -> dict:
    """Extra subprocess.Popen arguments that drop root for a server process."""
    if not running_as_root():
        return {}
    pw = pwd.getpwnam(SERVER_USER)
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": [],
            "env": dict(os.environ, HOME=pw.pw_dir, USER=SERVER_USER, LOGNAME=SERVER_USER)}


def give_to_server_user(path: str) -> None:
    """Makes a file or directory writable by the server user."""
    if running_as_root():
        pw = pwd.getpwnam(SERVER_USER)
        os.chown(path, pw.pw_uid, pw.pw_gid)
