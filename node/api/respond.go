package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

var (
	contentJSON = []string{"application/json"}
	bufPool     = sync.Pool{New: func() any { return new(bytes.Buffer) }}
)

func getBuf() *bytes.Buffer { b := bufPool.Get().(*bytes.Buffer); b.Reset(); return b }

func putBuf(b *bytes.Buffer) {
	if b.Cap() <= 1<<20 { // do not pin the memory of a rare large body
		bufPool.Put(b)
	}
}

// reply writes v as JSON with a Content-Length.
func (s *Server) reply(w http.ResponseWriter, r *http.Request, status int, v any) {
	buf := getBuf()
	defer putBuf(buf)
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		s.log.ErrorContext(r.Context(), "api: cannot encode a response", "method", r.Method, "path", r.URL.Path, "err", err)
		buf.Reset()
		status = http.StatusInternalServerError
		buf.WriteString(`{"error":{"code":"internal","message":"the node produced a response it cannot encode; its log has the details"}}` + "\n")
	}
	h := w.Header()
	h["Content-Type"] = contentJSON
	h["Content-Length"] = []string{strconv.Itoa(buf.Len())}
	writeDeadline(w)
	w.WriteHeader(status)
	w.Write(buf.Bytes()) // a failed write means the caller left; nothing to do
}

// fail answers with err: an *Error as itself, anything else as a 500 whose
// detail goes to the log, not to the caller.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	switch {
	case errors.As(err, &e) && e.Code != "":
	case r.Context().Err() != nil && isContextErr(err):
		return // the caller left; nobody to answer
	case s.stopping.Err() != nil && isContextErr(err):
		e = Errorf(CodeUnavailable, "the node is shutting down; retry when it is back")
	default:
		s.log.ErrorContext(r.Context(), "api: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = Errorf(CodeInternal, "the node failed to handle this request; its log has the details")
	}
	switch e.Code {
	case CodeUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="hayek"`)
	case CodeTimeout:
		// The rest of the body may still be on its way: end the
		// connection rather than read it.
		w.Header().Set("Connection", "close")
	}
	s.reply(w, r, e.HTTPStatus(), ErrorBody{Error: ErrorDetail{Code: e.Code, Message: e.Message, Fields: e.Fields}})
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// writeDeadline bounds the next write, so a client that stops reading does
// not hold a goroutine forever. Long responses call it before each write.
func writeDeadline(w http.ResponseWriter) {
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(writeTimeout))
}

func tooLarge(what string, limit int64) *Error {
	return Errorf(CodeTooLarge, "%s is larger than this node accepts (%d bytes)", what, limit)
}

// readBody reads a whole JSON request body of at most limit bytes into buf.
func readBody(w http.ResponseWriter, r *http.Request, buf *bytes.Buffer, what string, limit int64) error {
	if r.ContentLength > limit {
		return tooLarge(what, limit)
	}
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit)); err != nil {
		var mb *http.MaxBytesError
		var ae *Error
		switch {
		case errors.As(err, &mb):
			return tooLarge(what, limit)
		case errors.As(err, &ae): // paced out: too slow
			return ae
		}
		return Errorf(CodeBadRequest, "reading the request body: %v", err)
	}
	if len(bytes.TrimSpace(buf.Bytes())) == 0 {
		return Errorf(CodeBadRequest, "the request body is empty; want %s as a JSON object", what)
	}
	return nil
}

// decodeStrict decodes one JSON value from body into v, refusing unknown
// fields and anything after the value, and explains what is wrong.
func decodeStrict(body []byte, v any, what string) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return explainDecode(err, body, reflect.TypeOf(v).Elem(), what)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Errorf(CodeBadRequest, "unexpected data after the JSON object of %s at byte %d; send exactly one object", what, dec.InputOffset())
	}
	return nil
}

// explainDecode turns a decoding error into a bad_request that names the
// field at fault. It runs only on bad input, so it may be slow.
func explainDecode(err error, body []byte, t reflect.Type, what string) *Error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return Errorf(CodeBadRequest, "%s is not valid JSON: %v (at byte %d)", what, syn, syn.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return Errorf(CodeBadRequest, "%s is not valid JSON: it ends early", what)
	case errors.As(err, &typ) && typ.Field != "":
		return fieldError(typ.Field, fmt.Sprintf("want %s, got a JSON %s", jsonKind(typ.Type), typ.Value))
	case errors.As(err, &typ):
		return Errorf(CodeBadRequest, "%s must be a JSON object, not a JSON %s", what, typ.Value)
	}
	var doc any
	if json.Unmarshal(body, &doc) != nil {
		return Errorf(CodeBadRequest, "%s: %v", what, err)
	}
	if path := unknownField(doc, t, ""); path != "" {
		e := fieldError(path, "unknown field")
		e.Message = fmt.Sprintf("unknown field %q in %s; docs/api.md lists the fields", path, what)
		return e
	}
	// A field's own decoder (sizes, durations) failed: find which one by
	// decoding the fields one at a time.
	if obj, ok := doc.(map[string]any); ok {
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			one, _ := json.Marshal(map[string]any{k: obj[k]})
			if ferr := json.Unmarshal(one, reflect.New(t).Interface()); ferr != nil {
				return fieldError(k, strings.TrimPrefix(ferr.Error(), "units: "))
			}
		}
	}
	return Errorf(CodeBadRequest, "%s: %v", what, err)
}

func fieldError(field, msg string) *Error {
	return &Error{Code: CodeBadRequest, Message: field + ": " + msg, Fields: []FieldError{{Field: field, Message: msg}}}
}

// unknownField is the path of the first JSON member (in sorted order) that
// has no field in t, or "".
func unknownField(doc any, t reflect.Type, prefix string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch v := doc.(type) {
	case map[string]any:
		if t.Kind() == reflect.Map {
			for k, e := range v {
				if p := unknownField(e, t.Elem(), prefix+"."+k); p != "" {
					return strings.TrimPrefix(p, ".")
				}
			}
			return ""
		}
		if t.Kind() != reflect.Struct {
			return ""
		}
		fields := jsonFields(t)
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ft, ok := fields[strings.ToLower(k)]
			if !ok {
				return strings.TrimPrefix(prefix+"."+k, ".")
			}
			if p := unknownField(v[k], ft, prefix+"."+k); p != "" {
				return p
			}
		}
	case []any:
		if t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
			return ""
		}
		for i, e := range v {
			if p := unknownField(e, t.Elem(), fmt.Sprintf("%s[%d]", prefix, i)); p != "" {
				return strings.TrimPrefix(p, ".")
			}
		}
	}
	return ""
}

// jsonFields maps the JSON names of t's fields, embedded structs' included,
// lower-cased, to their types: encoding/json matches names
// case-insensitively, and so does unknownField.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			for k, v := range jsonFields(f.Type) {
				m[k] = v
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[strings.ToLower(name)] = f.Type
	}
	return m
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a " + t.String()
}

// recorder notes whether a response has started, so a recovered panic
// answers only when it still can. Unwrap keeps ResponseController working.
type recorder struct {
	http.ResponseWriter
	started bool
}

func (w *recorder) WriteHeader(code int) { w.started = true; w.ResponseWriter.WriteHeader(code) }

func (w *recorder) Write(b []byte) (int, error) {
	w.started = true
	return w.ResponseWriter.Write(b)
}

// ReadFrom keeps io.Copy into the response on net/http's fast path.
func (w *recorder) ReadFrom(r io.Reader) (int64, error) {
	w.started = true
	return io.Copy(w.ResponseWriter, r)
}

func (w *recorder) Flush() { http.NewResponseController(w.ResponseWriter).Flush() }

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// recoverer turns a panic in a handler into a logged 500, so one bad
// request cannot take the node down or leave its caller without an answer.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w}
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler {
				panic(p) // net/http's own way to abort a response
			}
			s.log.ErrorContext(r.Context(), "api: handler panicked", "method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
			if rec.started {
				panic(http.ErrAbortHandler) // too late to answer: cut the connection
			}
			s.reply(rec, r, http.StatusInternalServerError, ErrorBody{Error: ErrorDetail{
				Code: CodeInternal, Message: "the node failed to handle this request; its log has the details"}})
		}()
		next.ServeHTTP(rec, r)
	})
}
