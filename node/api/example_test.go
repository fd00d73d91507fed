package api_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/hayek-market/hayek/node/api"
)

// An agent runs a WebAssembly module on the market: upload it, submit the
// job, wait for it, read the result. (Examples here compile but do not run:
// they need a running node.)
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	home, _ := os.UserHomeDir()
	c := api.NewClient(filepath.Join(home, ".hayek", "hayek.sock"))

	// 1. Upload the module. Blobs are content-addressed: uploading the same
	// bytes again is cheap and returns the same CID.
	f, err := os.Open("wordcount.wasm")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	mod, err := c.PutBlob(ctx, f)
	if err != nil {
		log.Fatal(err) // errors.Is(err, api.ErrUnreachable): is "hayek serve" running?
	}

	// 2. Submit. The idempotency key makes a retry after a broken
	// connection return the same job instead of running it twice.
	job, err := c.Submit(ctx, api.SubmitRequest{
		Module:         api.BlobRef{CID: mod.CID},
		Stdin:          &api.BlobRef{Text: "the quick brown fox"},
		Args:           []string{"--words"},
		MaxPrice:       1000,
		IdempotencyKey: "example/1",
	})
	var apiErr *api.Error
	if errors.As(err, &apiErr) && apiErr.Code == api.CodeInvalidSpec {
		for _, fe := range apiErr.Fields {
			log.Printf("%s: %s", fe.Field, fe.Message)
		}
		log.Fatal("fix the spec")
	}
	if err != nil {
		log.Fatal(err)
	}

	// 3. Wait until it is completed, failed or cancelled.
	job, err = c.Wait(ctx, job.ID)
	if err != nil {
		log.Fatal(err)
	}
	if job.State != api.StateCompleted {
		log.Fatalf("job %s %s: %s", job.ID, job.State, job.Error.Message)
	}

	// 4. Read the result: exit code, price, and stdout (inline up to 1 MiB,
	// always by CID).
	res, err := c.Result(ctx, job.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("ran on %s for %d, exit code %d\n", res.Provider, res.Price, res.ExitCode)
	if _, err := c.GetBlob(ctx, res.Stdout.CID, os.Stdout); err != nil {
		log.Fatal(err)
	}
	for _, o := range res.Outputs {
		out, err := os.Create(filepath.Join("results", filepath.Base(o.Name)))
		if err != nil {
			log.Fatal(err)
		}
		if _, err := c.GetBlob(ctx, o.CID, out); err != nil {
			log.Fatal(err)
		}
		out.Close()
	}
}

// Follow a job's auction as it happens: why no provider bid is answerable.
func ExampleClient_Events() {
	ctx := context.Background()
	c := api.NewClient(os.ExpandEnv("$HOME/.hayek/hayek.sock"))
	err := c.Events(ctx, "jexample", func(ev api.Event) error {
		switch ev.Type {
		case "bid":
			fmt.Printf("%s bids %d\n", ev.Provider, ev.Price)
		case "decline":
			fmt.Printf("%s declines: %s %s\n", ev.Provider, ev.Reason, ev.Message)
		case "award":
			fmt.Printf("awarded to %s at %d\n", ev.Provider, ev.Price)
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
}

// An agent under its own Unix user spends from its budget through the
// agent socket: it checks what it has left, and a refusal says why.
func ExampleWithToken() {
	ctx := context.Background()
	c := api.NewClient("/srv/hayek/agent.sock", api.WithToken(os.Getenv("HAYEK_TOKEN")))
	me, err := c.Me(ctx)
	if err != nil {
		log.Fatal(err) // api.CodeUnauthorized: a missing, unknown or revoked token
	}
	price := int64(2000)
	if me.BudgetLeft < price*3 {
		log.Fatalf("%d left; ask the operator: hayek agent fund %s", me.BudgetLeft, me.Name)
	}
	job, err := c.Submit(ctx, api.SubmitRequest{
		Module:   api.BlobRef{CID: "bafkreib…"},
		MaxPrice: price,
		Verify:   "replicate:3", // three providers must agree; each run is paid
	})
	switch {
	case api.IsCode(err, api.CodeBudgetExceeded), api.IsCode(err, api.CodeOverLimit):
		log.Fatalf("refused by this agent's limits: %v", err)
	case err != nil:
		log.Fatal(err)
	case job.State == api.StateApproval:
		fmt.Printf("job %s waits for the operator: hayek job approve %s\n", job.ID, job.ID)
	}
}
