package against_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/audit"
)

// jsonReport is the part of the JSON report tests read.
type jsonReport struct {
	Complete   bool          `json:"complete"`
	Counts     audit.Counts  `json:"counts"`
	Missing    []audit.Entry `json:"missing"`
	Duplicated []audit.Entry `json:"duplicated"`
	Unexpected []audit.Entry `json:"unexpected"`
}

func (j *jsonReport) decode(t *testing.T, rep *audit.Report) {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, rep.WriteJSON(&buf))
	require.NoError(t, json.Unmarshal(buf.Bytes(), j), buf.String())
}
