package main

import (
	"testing"
	"time"

	"github.com/hayek-market/hayek/node/api"
)

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                         "0.00ms",
		310 * time.Microsecond:                    "0.31ms",
		4710 * time.Microsecond:                   "4.71ms",
		19600 * time.Microsecond:                  "19.6ms",
		312200 * time.Microsecond:                 "312ms",
		2004900 * time.Microsecond:                "2.00s",
		5427200 * time.Microsecond:                "5.43s",
		19500 * time.Millisecond:                  "19.5s",
		65 * time.Second:                          "1m5s",
		65*time.Second + 400*time.Millisecond:     "1m5s",
		2*time.Hour + 3*time.Minute + time.Second: "2h3m1s",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestPriceWhy(t *testing.T) {
	names := map[string]string{"a": "node-1", "b": "node-2", "c": "node-3"}
	bids := []api.BidInfo{{Provider: "a", Price: 41}, {Provider: "b", Price: 43}, {Provider: "c", Price: 57}}
	for _, c := range []struct {
		name      string
		a         api.Attempt
		what, why string
	}{
		{"second price", api.Attempt{Bids: bids, Winner: "a", RunnerUp: "b", Price: 43},
			"43: the bid of node-2, the best one that lost (second price)", "the winner is paid the runner-up's price, not its own bid, so asking its true cost is its best strategy"},
		{"value of time", api.Attempt{Bids: bids, Winner: "a", RunnerUp: "b", Price: 45},
			"45: the most the winner could have bid and still ranked first against node-2's 43 (second price)", "committed start times count in the ranking, at the job's value of time"},
		{"replicas against the next bid", api.Attempt{Bids: bids, Winners: []string{"a", "b"}, RunnerUp: "c", Price: 57},
			"57 each: the bid of node-3, the best one that lost (second price)", "each winner is paid the runner-up's price, not its own bid, so asking its true cost is its best strategy"},
		{"replicas, no loser, max price", api.Attempt{Bids: bids, Winners: []string{"a", "b", "c"}, Price: 100},
			"100 each: the job's max price", "every bid was drawn among the winners, so no losing bid was left to set a lower price"},
		{"replicas, no loser, highest winning bid", api.Attempt{Bids: bids, Winners: []string{"a", "b", "c"}, Price: 57},
			"57 each: the highest winning bid", "with no losing bid to set the price, every winner is paid the dearest winner's bid"},
		{"lone bidder, max price", api.Attempt{Bids: bids[:1], Winner: "a", Price: 100},
			"100: the job's max price", "it was the only bid, so no losing bid set a lower price"},
		{"lone bidder, own bid", api.Attempt{Bids: bids[:1], Winner: "a", Price: 41},
			"41: its own bid", "with no other bid to set the price, the winner is paid what it asked"},
		{"no award", api.Attempt{Bids: bids}, "", ""},
		{"a rule the demo does not know", api.Attempt{Bids: bids[:1], Winner: "a", Price: 77}, "", ""},
	} {
		what, why := priceWhy(c.a, 100, names)
		if what != c.what || why != c.why {
			t.Errorf("%s:\n got %q, %q\nwant %q, %q", c.name, what, why, c.what, c.why)
		}
	}
}
