package apitest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hayek-market/hayek/node/api"
)

// SocketDir returns a fresh directory, removed when the test ends, whose
// path is short enough for a unix socket (about 104 bytes at most), which
// t.TempDir's often is not.
func SocketDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "hk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// Serve runs an api.Server for b on a socket in a fresh SocketDir until the
// test ends, and returns the server and the socket's path.
func Serve(t testing.TB, b api.Backend, opts ...api.Option) (*api.Server, string) {
	t.Helper()
	return ServeAt(t, b, filepath.Join(SocketDir(t), "hayek.sock"), opts...)
}

// ServeAt is Serve on the socket path sock.
func ServeAt(t testing.TB, b api.Backend, sock string, opts ...api.Option) (*api.Server, string) {
	t.Helper()
	srv := api.NewServer(b, opts...)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(t.Context(), sock) }()
	select {
	case <-srv.Ready():
	case err := <-errc:
		t.Fatalf("Serve: %v", err)
	}
	t.Cleanup(func() {
		srv.Close()
		if err := <-errc; err != nil {
			t.Errorf("Serve returned %v after Close", err)
		}
	})
	return srv, sock
}
