package es_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/audit"
	"github.com/compliance-connect/compliance-connect/audit/es"
	"github.com/compliance-connect/compliance-connect/audit/internal/fakees"
	"github.com/compliance-connect/compliance-connect/input/compliance/api"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type oneOf struct{ acts []api.Activity }

func (o oneOf) ListActivities(context.Context, api.ListParams) (*api.Page, error) {
	return &api.Page{Activities: o.acts, Attempts: 1}, nil
}

func TestPagesThroughDocumentsThatShareATimestampWithoutSkippingAny(t *testing.T) {
	// 100 documents on 3 distinct seconds, pages of 7, ties in a new random
	// order on every request: paging on the time alone would skip some.
	fake := fakees.New(42)
	var acts []api.Activity
	for i := range 100 {
		at := t0.Add(time.Duration(i%3) * time.Second)
		id := fmt.Sprintf("activity_%03d", i)
		acts = append(acts, api.Activity{ID: id, Type: "t", CreatedAt: at})
		fake.Put("audit-a", id, map[string]any{"id": id, "created_at": at.Format(time.RFC3339)})
	}
	// The same activity again in another index, at the same time: a
	// duplicate the walk must see too.
	fake.Put("audit-b", "activity_004", map[string]any{"id": "activity_004", "created_at": t0.Add(time.Second).Format(time.RFC3339)})
	// Outside the window and in an index the pattern does not match.
	fake.Put("audit-a", "late", map[string]any{"id": "late", "created_at": t0.Add(time.Hour).Format(time.RFC3339)})
	fake.Put("other", "x", map[string]any{"id": "x", "created_at": t0.Format(time.RFC3339)})
	srv := httptest.NewServer(fake)
	defer srv.Close()

	d := &es.Destination{URLs: []string{srv.URL}, Index: "audit-*", TimeField: "created_at", PageSize: 7}
	rep, err := audit.Run(context.Background(), audit.Options{
		Window: audit.Window{From: t0, To: t0.Add(time.Minute)}, API: audit.Expected{Lister: oneOf{acts}},
		Destination: d, TempDir: t.TempDir(),
	})
	require.NoError(t, err)
	defer rep.Close()
	assert.True(t, rep.Complete())
	assert.EqualValues(t, 100, rep.Counts.Present)
	assert.EqualValues(t, 101, rep.Counts.Documents)
	assert.EqualValues(t, 1, rep.Counts.Duplicated)
	assert.EqualValues(t, 0, rep.Counts.Unexpected)
	assert.GreaterOrEqual(t, fake.Searches, 15)
}

func TestRefusesATimeFieldThatIsNotMilliseconds(t *testing.T) {
	srv := httptest.NewServer(fakeSortValue(`{"hits":{"hits":[{"_index":"i","_id":"1","_source":{"id":"a"},"sort":[1772366400000000000]}]}}`))
	defer srv.Close()
	d := &es.Destination{URLs: []string{srv.URL}, Index: "i", TimeField: "created_at"}
	_, err := audit.Run(context.Background(), audit.Options{
		Window: audit.Window{From: t0, To: t0.Add(time.Minute)}, API: audit.Expected{Lister: oneOf{}},
		Destination: d, TempDir: t.TempDir(),
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is created_at a date field")
}

type fakeSortValue string

func (f fakeSortValue) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	_, _ = io.WriteString(w, string(f))
}
