package discovery

import (
	"context"

	"github.com/libp2p/go-libp2p/core/routing"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// queriesHelp is shared by the finder's and the advertiser's query
// counters, two labels of one metric.
const queriesHelp = "DHT queries (one RPC to one peer: GET_PROVIDERS or FIND_NODE) this node's lookups sent, " +
	"by what the lookup was for (find, provide); a provide's ADD_PROVIDER messages are not counted."

func queriesVec(reg prometheus.Registerer) *prometheus.CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hayek_dht_queries_total", Help: queriesHelp},
		[]string{"op"})
	if reg == nil {
		return v
	}
	if err := reg.Register(v); err != nil {
		are, ok := err.(prometheus.AlreadyRegisteredError)
		if !ok {
			panic(err)
		}
		return are.ExistingCollector.(*prometheus.CounterVec) // the finder's and the advertiser's share it
	}
	return v
}

// countQueries returns a context under which the DHT's query events are
// counted into c (the DHT tells each peer it queries to a context that
// asks), and a stop to call once the lookup has returned.
func countQueries(ctx context.Context, c prometheus.Counter) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	ctx, events := routing.RegisterForQueryEvents(ctx)
	done := make(chan struct{})
	go func() { // ends when events closes, once ctx is cancelled; stop waits for it
		defer close(done)
		for ev := range events {
			if ev.Type == routing.SendingQuery {
				c.Inc()
			}
		}
	}()
	return ctx, func() {
		cancel()
		<-done
	}
}

// finderMetrics count the finder's DHT lookups: each is one iterative
// provider-record query, however many hops it takes.
type finderMetrics struct {
	finds, found, queries prometheus.Counter
}

func newFinderMetrics(reg prometheus.Registerer) finderMetrics {
	f := promauto.With(reg)
	return finderMetrics{
		finds: f.NewCounter(prometheus.CounterOpts{Name: "hayek_dht_provider_finds_total",
			Help: "DHT lookups of a capability's provider records this node started."}),
		found: f.NewCounter(prometheus.CounterOpts{Name: "hayek_dht_providers_found_total",
			Help: "Provider records those lookups returned."}),
		queries: queriesVec(reg).WithLabelValues("find"),
	}
}

// advertiserMetrics count the advertiser's DHT puts, one per capability
// provided or reprovided.
type advertiserMetrics struct {
	provides *prometheus.CounterVec
	queries  prometheus.Counter
}

func newAdvertiserMetrics(reg prometheus.Registerer) advertiserMetrics {
	m := advertiserMetrics{provides: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
		Name: "hayek_dht_provides_total",
		Help: "Provider records this node put on the DHT (provides and reprovides), by result (ok, error)."},
		[]string{"result"}), queries: queriesVec(reg).WithLabelValues("provide")}
	m.provides.WithLabelValues("ok")
	m.provides.WithLabelValues("error")
	return m
}
