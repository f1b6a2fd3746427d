package bulk_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/outputs/elasticsearch/bulk"
)

func TestAppendDocWritesActionAndSourceLines(t *testing.T) {
	tests := []struct {
		name string
		op   bulk.Op
		doc  bulk.Doc
		want string
	}{
		{
			name: "index with id and pipeline",
			op:   bulk.OpIndex,
			doc:  bulk.Doc{Index: "audit-2026.04.10", ID: "activity_1", Pipeline: "ecs", Source: []byte(`{"a":"<&>"}`)},
			want: `{"index":{"_index":"audit-2026.04.10","_id":"activity_1","pipeline":"ecs"}}` + "\n" + `{"a":"<&>"}` + "\n",
		},
		{
			name: "create without id or pipeline",
			op:   bulk.OpCreate,
			doc:  bulk.Doc{Index: "logs-anthropic", Source: []byte(`{}`)},
			want: `{"create":{"_index":"logs-anthropic"}}` + "\n{}\n",
		},
		{
			name: "quotes in names are escaped",
			op:   bulk.OpIndex,
			doc:  bulk.Doc{Index: `we"ird`, ID: `a\b`, Source: []byte(`1`)},
			want: `{"index":{"_index":"we\"ird","_id":"a\\b"}}` + "\n1\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := bulk.AppendDoc(nil, tt.op, tt.doc)
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(got))
		})
	}
}

func TestWriteReturnsOneResultPerDocumentInOrder(t *testing.T) {
	var gotQuery, gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotQuery, gotAuth = r.URL.RawQuery, r.Header.Get("Authorization")
		_, _ = io.WriteString(w, `{"errors":true,"items":[
			{"index":{"status":201}},
			{"index":{"status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse"}}},
			{"index":{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"queue full"}}}]}`)
	}))
	defer srv.Close()
	c, err := bulk.New(bulk.Config{URLs: []string{srv.URL + "/"}, Header: http.Header{"Authorization": {"ApiKey k"}}})
	require.NoError(t, err)

	res, err := c.Write(context.Background(), bulk.OpIndex, docs(3))

	require.NoError(t, err)
	assert.Equal(t, []bulk.Result{
		{Status: 201},
		{Status: 400, Type: "mapper_parsing_exception", Reason: "failed to parse"},
		{Status: 429, Type: "es_rejected_execution_exception", Reason: "queue full"},
	}, res)
	assert.True(t, res[0].OK())
	assert.False(t, res[1].OK())
	assert.Contains(t, gotQuery, "filter_path=")
	assert.Equal(t, "ApiKey k", gotAuth)
}

func TestWriteRefusesMalformedResponses(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"not JSON", `<html>`, "decoding bulk response"},
		{"missing errors field", `{"items":[{"index":{"status":201}}]}`, "no errors field"},
		{"too few items", `{"errors":false,"items":[]}`, "0 items for 1 documents"},
		{"item without status", `{"errors":false,"items":[{"index":{}}]}`, "no status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			c, err := bulk.New(bulk.Config{URLs: []string{srv.URL}})
			require.NoError(t, err)

			_, err = c.Write(context.Background(), bulk.OpIndex, docs(1))

			var reqErr *bulk.RequestError
			require.ErrorAs(t, err, &reqErr)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestRequestErrorCarriesTheClusterErrorTypeAndReason(t *testing.T) {
	tests := []struct {
		name, body string
		status     int
		want       string
	}{
		{"structured", `{"error":{"type":"security_exception","reason":"missing authentication credentials"},"status":401}`, 401,
			"status 401: security_exception: missing authentication credentials"},
		{"text error", `{"error":"Incorrect HTTP method"}`, 405, "status 405: Incorrect HTTP method"},
		{"not JSON", `<html>bad gateway</html>`, 502, "status 502: <html>bad gateway</html>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			c, err := bulk.New(bulk.Config{URLs: []string{srv.URL}})
			require.NoError(t, err)

			_, err = c.Write(context.Background(), bulk.OpCreate, docs(2))

			var reqErr *bulk.RequestError
			require.ErrorAs(t, err, &reqErr)
			assert.Equal(t, tt.status, reqErr.Status)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestWriteTriesTheNextURLOnlyOnTransportErrors(t *testing.T) {
	var liveHits atomic.Int32
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		liveHits.Add(1)
		_, _ = io.WriteString(w, `{"errors":false,"items":[{"index":{"status":201}}]}`)
	}))
	defer live.Close()
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	c, err := bulk.New(bulk.Config{URLs: []string{dead.URL, live.URL}})
	require.NoError(t, err)

	// Round robin starts the two writes on different URLs; both succeed.
	for range 2 {
		res, err := c.Write(context.Background(), bulk.OpIndex, docs(1))
		require.NoError(t, err)
		assert.Equal(t, 201, res[0].Status)
	}
	assert.Equal(t, int32(2), liveHits.Load())

	t.Run("an HTTP status is not retried elsewhere", func(t *testing.T) {
		var hits atomic.Int32
		failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			w.WriteHeader(http.StatusInternalServerError)
		}))
		defer failing.Close()
		c, err := bulk.New(bulk.Config{URLs: []string{failing.URL, failing.URL}})
		require.NoError(t, err)

		_, err = c.Write(context.Background(), bulk.OpIndex, docs(1))

		require.ErrorContains(t, err, "status 500")
		assert.Equal(t, int32(1), hits.Load())
	})
	t.Run("every URL down returns the transport error", func(t *testing.T) {
		c, err := bulk.New(bulk.Config{URLs: []string{dead.URL, dead.URL}})
		require.NoError(t, err)

		_, err = c.Write(context.Background(), bulk.OpIndex, docs(1))

		var reqErr *bulk.RequestError
		require.ErrorAs(t, err, &reqErr)
		assert.Equal(t, 0, reqErr.Status)
		assert.Error(t, errors.Unwrap(err))
	})
}

func TestWriteRefusesDocumentsThatWouldBreakTheFraming(t *testing.T) {
	c, err := bulk.New(bulk.Config{URLs: []string{"http://127.0.0.1:1"}})
	require.NoError(t, err)
	tests := []struct {
		name string
		doc  bulk.Doc
		want string
	}{
		{"line break in source", bulk.Doc{Index: "i", Source: []byte("{\n}")}, "line break"},
		{"carriage return in source", bulk.Doc{Index: "i", Source: []byte("{\r}")}, "line break"},
		{"empty index", bulk.Doc{Source: []byte("{}")}, "empty index"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Write(context.Background(), bulk.OpIndex, []bulk.Doc{tt.doc})
			require.ErrorContains(t, err, tt.want)
		})
	}
	_, err = c.Write(context.Background(), bulk.Op("update"), docs(1))
	require.ErrorContains(t, err, `unsupported bulk action "update"`)
}

func TestNewValidatesURLs(t *testing.T) {
	tests := []struct{ name, url, want string }{
		{"credentials", "https://elastic:changeme@es:9200", "credentials in the URL are not allowed"},
		{"scheme", "es:9200", "scheme must be http or https"},
		{"no host", "http://", "missing host"},
		{"query", "http://es:9200/?pretty", "query and fragment are not allowed"},
		{"unparsable, with credentials", "http://elastic:changeme@es:port", "invalid port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := bulk.New(bulk.Config{URLs: []string{"http://ok:9200", tt.url}})
			require.ErrorContains(t, err, "urls[1]: "+tt.want)
			assert.NotContains(t, err.Error(), "changeme")
		})
	}
	_, err := bulk.New(bulk.Config{})
	require.ErrorContains(t, err, "at least one URL")
}

func docs(n int) []bulk.Doc {
	out := make([]bulk.Doc, n)
	for i := range out {
		out[i] = bulk.Doc{Index: "idx", Source: []byte(`{"n":1}`)}
	}
	return out
}
