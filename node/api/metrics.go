package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// MetricsWriter is what the server needs from the node for GET /v1/metrics.
// A backend without it answers not_found there.
type MetricsWriter interface {
	// WriteMetrics writes the node's counters in the Prometheus text
	// exposition format (version 0.0.4).
	WriteMetrics(ctx context.Context, w io.Writer) error
}

// ContentMetrics is the content type of GET /v1/metrics.
const ContentMetrics = "text/plain; version=0.0.4; charset=utf-8"

func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	mw, ok := s.b.(MetricsWriter)
	if !ok {
		s.fail(w, r, Errorf(CodeNotFound, "this node exports no metrics (its backend does not implement api.MetricsWriter)"))
		return
	}
	buf := getBuf()
	defer putBuf(buf)
	if err := mw.WriteMetrics(r.Context(), buf); err != nil {
		s.fail(w, r, err)
		return
	}
	h := w.Header()
	h["Content-Type"] = []string{ContentMetrics}
	h["Content-Length"] = []string{strconv.Itoa(buf.Len())}
	writeDeadline(w)
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes()) // a failed write means the caller left
	}
}

// Metrics returns the node's counters in the Prometheus text exposition
// format, as GET /v1/metrics serves them. Operator only. ParseMetrics
// reads them.
func (c *Client) Metrics(ctx context.Context) ([]byte, error) {
	req, err := c.newRequest(ctx, http.MethodGet, "/v1/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/plain")
	resp, err := c.send(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		return nil, fmt.Errorf("hayek: GET /v1/metrics answered %q, not the text exposition format: is the socket a hayek node?", ct)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("hayek: reading metrics: %w", err)
	}
	return b, nil
}

// MetricFamily is one metric of the exposition with its samples, as
// `hayek metrics --json` prints it.
type MetricFamily struct {
	Name    string         `json:"name"`
	Type    string         `json:"type"` // counter, gauge, summary, histogram, untyped
	Help    string         `json:"help,omitempty"`
	Samples []MetricSample `json:"samples"`
}

// MetricSample is one value of a metric. Summaries and histograms are
// flattened the way the text format shows them (name_sum, name_count,
// name_bucket{le}, name{quantile}); non-finite values (a quantile with no
// observations yet) are left out, JSON having no NaN.
type MetricSample struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
	Value  float64           `json:"value"`
}

// Metrics are a node's metric families, sorted by name.
type Metrics []MetricFamily

// ParseMetrics reads the text exposition format.
func ParseMetrics(text []byte) (Metrics, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("hayek: metrics: %w", err)
	}
	out := make(Metrics, 0, len(fams))
	for _, f := range fams {
		out = append(out, family(f))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func family(f *dto.MetricFamily) MetricFamily {
	mf := MetricFamily{Name: f.GetName(), Type: strings.ToLower(f.GetType().String()), Help: f.GetHelp(),
		Samples: []MetricSample{}}
	vec, err := expfmt.ExtractSamples(&expfmt.DecodeOptions{Timestamp: model.Earliest}, f)
	if err != nil {
		return mf
	}
	for _, s := range vec {
		v := float64(s.Value)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		ms := MetricSample{Name: string(s.Metric[model.MetricNameLabel]), Value: v}
		for k, lv := range s.Metric {
			if k == model.MetricNameLabel {
				continue
			}
			if ms.Labels == nil {
				ms.Labels = map[string]string{}
			}
			ms.Labels[string(k)] = string(lv)
		}
		mf.Samples = append(mf.Samples, ms)
	}
	sort.Slice(mf.Samples, func(i, j int) bool { return sampleKey(mf.Samples[i]) < sampleKey(mf.Samples[j]) })
	return mf
}

func sampleKey(s MetricSample) string {
	keys := make([]string, 0, len(s.Labels))
	for k := range s.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(s.Name)
	for _, k := range keys {
		b.WriteString("\x00" + k + "=" + s.Labels[k])
	}
	return b.String()
}

// Sum adds the samples named name whose labels include every pair of
// match (nil matches all); a value ending in "*" matches by prefix:
// hayek_gossip_wire_sent_total over all topics, over one, or over
// {"topic": "/hayek/auction/*"}.
func (m Metrics) Sum(name string, match map[string]string) float64 {
	var sum float64
	for _, f := range m {
		for _, s := range f.Samples {
			if s.Name != name || !matches(s.Labels, match) {
				continue
			}
			sum += s.Value
		}
	}
	return sum
}

// Only keeps the families whose names start with prefix.
func (m Metrics) Only(prefix string) Metrics {
	var out Metrics
	for _, f := range m {
		if strings.HasPrefix(f.Name, prefix) {
			out = append(out, f)
		}
	}
	return out
}

func matches(labels, match map[string]string) bool {
	for k, v := range match {
		lv, ok := labels[k]
		if p, isPrefix := strings.CutSuffix(v, "*"); isPrefix {
			if !ok || !strings.HasPrefix(lv, p) {
				return false
			}
		} else if lv != v {
			return false
		}
	}
	return true
}
