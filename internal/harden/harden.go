// Package harden applies keyward's process hardening before any secret is
// read: no core dumps (a core file holds every secret in memory, and lands
// in the working directory — often the repository) and, on Linux, no
// ptrace or /proc/PID/mem access by other processes of the same user.
package harden

// DisableCoreDumps sets RLIMIT_CORE to 0 (soft and hard) on Unix and
// PR_SET_DUMPABLE to 0 on Linux. Elsewhere it does nothing. Children
// started afterwards (keyward run's) inherit the zero core limit: their
// environment holds the same secrets.
func DisableCoreDumps() error { return disableCoreDumps() }
