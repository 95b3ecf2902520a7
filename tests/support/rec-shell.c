/*
 * ssso's tests: a login shell that records how it was started, then becomes bash.
 *
 * The differential test (tests/differential.rs) compares the command that reaches the remote
 * login shell under plain ssh and under ssso. sshd starts a user's shell as
 * `SHELL -c COMMAND` with argv[0] the shell's basename, or as `-BASENAME` for a login; a
 * script cannot see its own argv[0] (the kernel hands its interpreter the script's path), so
 * this is a program. Each start appends one record to $HOME/.ssso-rec/<pid>: the argument
 * count in decimal, then argv[0] and every argument, each followed by a NUL byte. A process
 * that execs this shell again (ssso's wrapper does) adds a second record to the same file.
 * Then it execs /bin/bash with the same argv (argv[0] included), so the command runs as it
 * would in bash.
 *
 * Built and installed by tests/support/setup.sh as /opt/ssso-test/rec-shell.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    const char *home = getenv("HOME");
    char path[4096];
    if (home != NULL && strlen(home) < sizeof path - 64) {
        snprintf(path, sizeof path, "%s/.ssso-rec", home);
        mkdir(path, 0700);
        snprintf(path, sizeof path, "%s/.ssso-rec/%ld", home, (long)getpid());
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            size_t len = 32;
            for (int i = 0; i < argc; i++)
                len += strlen(argv[i]) + 1;
            char *buf = malloc(len);
            if (buf != NULL) {
                size_t n = (size_t)snprintf(buf, len, "%d", argc) + 1;
                for (int i = 0; i < argc; i++) {
                    size_t l = strlen(argv[i]) + 1;
                    memcpy(buf + n, argv[i], l);
                    n += l;
                }
                /* One write: records of concurrent shells never interleave. */
                if (write(fd, buf, n) != (ssize_t)n)
                    perror("rec-shell: write");
                free(buf);
            }
            close(fd);
        }
    }
    execv("/bin/bash", argv);
    perror("rec-shell: exec /bin/bash");
    return 127;
}
