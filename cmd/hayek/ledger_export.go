package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

func newLedgerExportCmd(g *globals) *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:   "export [--out FILE]",
		Short: "Write the whole ledger as JSON lines, verifiable offline",
		Long: `Write the node's ledger as JSON lines, one entry per line in sequence order,
holding only the fields its hashes and signatures cover, so anyone can check it
without the node: hayek ledger verify --file FILE. With --out the file appears
whole or not at all (mode 0600: it names agents and amounts).

The last line is a trailer the node signs, naming the export's last entry, so
an export cut short fails verify. It proves the export whole as written, not
that nothing was appended since: compare the head verify reports with one you
trust, such as a head a counterparty's receipt names.`,
		Example: "  hayek ledger export --out ledger.jsonl\n  hayek ledger export | gzip > ledger.jsonl.gz",
		Args:    noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := connect(g)
			if err != nil {
				return err
			}
			defer cl.Close()
			if out == "" || out == "-" {
				return clientError(cl.ExportLedger(c.Context(), g.Stdout))
			}
			f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*.part")
			if err != nil {
				return withCode(ExitFailed, fmt.Errorf("--out %s: %w", out, err))
			}
			tmp := f.Name()
			defer os.Remove(tmp) // after the rename, a no-op
			err = cl.ExportLedger(c.Context(), f)
			if cerr := f.Close(); err == nil && cerr != nil {
				err = withCode(ExitFailed, fmt.Errorf("writing %s: %w", out, cerr))
			}
			if err != nil {
				return clientError(err)
			}
			if err := os.Rename(tmp, out); err != nil {
				return withCode(ExitFailed, fmt.Errorf("--out %s: %w", out, err))
			}
			fmt.Fprintf(g.Stderr, "ledger exported to %s\nTry: hayek ledger verify --file %s\n", out, out)
			return nil
		},
	}
	c.Flags().StringVarP(&out, "out", "o", "", "write to `FILE` instead of stdout")
	return c
}
