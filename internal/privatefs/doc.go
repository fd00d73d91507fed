// Package privatefs is pebble's operating-system file system (vfs.FS)
// creating everything for its owner only: directories 0700 and files
// 0600, from the first byte and whatever the process's umask.
//
// A pebble database holds what other users must not read (the ledger
// names agents, budgets and token hashes; the job store holds every job),
// yet pebble's own vfs.Default creates files 0666 and directories 0755
// and leaves the rest to the umask. Narrowing modes afterwards is too
// late: another user can open a file while it is wide and keep reading
// it through that descriptor. So the wrapper creates each file or
// directory privately first (O_EXCL with 0600, or Mkdir with 0700,
// chmodded to exactly that if the umask took owner bits away) and only
// then lets vfs.Default open it, which keeps pebble's own file type and
// its syncing and preallocation.
//
// Open a database with it:
//
//	db, err := pebble.Open(dir, &pebble.Options{FS: privatefs.Default})
//
// or, where tests pass an in-memory FS, privatefs.Wrap(opts.FS), which
// wraps only the operating system's.
//
// It changes no file that exists: a wider mode left by an older build is
// for the caller to refuse (the node does at startup, see node.CheckHome)
// or to narrow.
package privatefs
