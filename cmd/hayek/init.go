package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/node"
)

func newInitCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "init",
		Short: "Create a node's identity and a commented default config",
		Long: `Create the node home (default ~/.hayek, mode 0700) with an Ed25519 identity
(identity.key, mode 0600) and a commented config.toml. An existing identity or
config is never overwritten.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			home, err := g.homeDir()
			if err != nil {
				return err
			}
			key, created, err := node.LoadOrCreateIdentity(home)
			if err != nil {
				return err
			}
			id, err := node.PeerIDOf(key)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if created {
				fmt.Fprintf(out, "created identity %s\n", filepath.Join(home, node.IdentityFile))
			} else {
				fmt.Fprintf(out, "kept existing identity %s\n", filepath.Join(home, node.IdentityFile))
			}
			cfgPath := filepath.Join(home, "config.toml")
			f, err := os.OpenFile(cfgPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			switch {
			case errors.Is(err, fs.ErrExist):
				fmt.Fprintf(out, "kept existing config %s\n", cfgPath)
			case err != nil:
				return fmt.Errorf("create %s: %w", cfgPath, err)
			default:
				if _, err := f.Write(node.DefaultConfigFile()); err != nil {
					f.Close()
					return fmt.Errorf("write %s: %w", cfgPath, err)
				}
				if err := f.Close(); err != nil {
					return err
				}
				fmt.Fprintf(out, "wrote config %s\n", cfgPath)
			}
			fmt.Fprintf(out, "peer ID %s\n", id)
			fmt.Fprintf(out, "next: edit the config, then run: hayek serve --home %s\n", home)
			return nil
		},
	}
}
