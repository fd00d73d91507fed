package main

import (
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/testnet"
)

func newTestnetUpCmd(g *globals) *cobra.Command {
	var (
		dir     string
		timeout time.Duration
	)
	c := &cobra.Command{
		Use:   "up",
		Short: "Start the testnet's containers and wait until every node's API answers",
		Long: `Start the containers setup described (compose up), on their private
networks at their fixed addresses, then wait until every node's API answers
on its socket, DIR/homes/NODE/hayek.sock, with the peer ID the manifest gave
it. The image must exist: build it with scripts/testnet-image.

Compose is the docker compose plugin (v2 or later) where it answers, else
docker-compose (1.29); HAYEK_COMPOSE="docker compose" or "docker-compose"
picks one. The log names the one used.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := testnetRunner(g, dir)
			if err != nil {
				return err
			}
			ctx, cancel := withTimeout(cmd.Context(), timeout)
			defer cancel()
			if err := r.Up(ctx); err != nil {
				if errors.Is(err, testnet.ErrNoDocker) || errors.Is(err, testnet.ErrNoCompose) || errors.Is(err, testnet.ErrNoImage) {
					return withCode(ExitNotRun, err)
				}
				return err
			}
			return nil
		},
	}
	dirFlag(c, &dir)
	timeoutFlag(c, &timeout, 3*time.Minute)
	return c
}
