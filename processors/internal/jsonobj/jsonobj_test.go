package jsonobj_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/processors/internal/jsonobj"
)

func TestMembersKeepInsertionOrderAndEmptyOnesAreLeftOut(t *testing.T) {
	b := jsonobj.NewBuilder(jsonobj.Options{})
	root := b.Root()
	root.String("z", "last-added-first")
	root.String("empty", "")
	root.Int("zero", 0)
	root.Bool("no", false)
	root.Raw("null", json.RawMessage(`null`))
	root.Raw("emptyobj", json.RawMessage(`{}`))
	root.Strings("nolist", nil)
	root.Strings("list", []string{"", "a", ""})
	root.Object("child").String("empty", "")
	root.Objects("objs", b.NewObject(), root.NewObject())
	root.Raw("nested", json.RawMessage("{ \"a\" : [ 1 , null ],\n \"s\":\"x y\" }"))
	assert.Equal(t, `{"z":"last-added-first","zero":0,"no":false,"list":["a"],"nested":{"a":[1,null],"s":"x y"}}`,
		string(root.AppendJSON(nil)))
}

func TestObjectReturnsTheExistingChild(t *testing.T) {
	b := jsonobj.NewBuilder(jsonobj.Options{})
	root := b.Root()
	root.Object("actor").String("a", "1")
	root.String("between", "x")
	root.Object("actor").String("b", "2")
	o := root.NewObject()
	o.String("uid", "r1")
	root.Objects("resources", o)
	assert.Equal(t, `{"actor":{"a":"1","b":"2"},"between":"x","resources":[{"uid":"r1"}]}`,
		string(root.AppendJSON(nil)))
}

func TestStripNestedRemovesNullsAndEmptiesAtEveryDepthKeepingOrder(t *testing.T) {
	b := jsonobj.NewBuilder(jsonobj.Options{StripNested: true})
	root := b.Root()
	root.Raw("updates", json.RawMessage(`[{"type":"name","previous_value":null,"current_value":"x"},{"a":{"b":[]}},""]`))
	root.Raw("gone", json.RawMessage(`{"a":{"b":null},"c":[{}]}`))
	root.Raw("num", json.RawMessage(`0`))
	assert.Equal(t, `{"updates":[{"type":"name","current_value":"x"}],"num":0}`,
		string(root.AppendJSON(nil)))
}

func TestResetForgetsEverything(t *testing.T) {
	b := jsonobj.NewBuilder(jsonobj.Options{})
	b.Root().String("a", "1")
	b.Root().Object("o").String("b", "2")
	b.Reset()
	b.Root().String("c", "3")
	assert.Equal(t, `{"c":"3"}`, string(b.Root().AppendJSON(nil)))
}

func TestAppendStringRoundTripsThroughEncodingJSON(t *testing.T) {
	for _, s := range []string{
		"", "plain", `quote " backslash \ slash /`, "ctl \x00\x01\x1f\t\r\n", "é ü 日本 🎉",
		"line\u2028sep\u2029", "<script>&</script>", "bad utf8 \xff\xfe end",
	} {
		enc := jsonobj.AppendString(nil, s)
		require.True(t, json.Valid(enc), "%q encoded as invalid JSON %s", s, enc)
		var back string
		require.NoError(t, json.Unmarshal(enc, &back))
		var want string
		std, _ := json.Marshal(s)
		require.NoError(t, json.Unmarshal(std, &want))
		assert.Equal(t, want, back, "%q", s)
	}
}

func TestAppendCompactKeepsWhitespaceInsideStrings(t *testing.T) {
	in := "{ \"a b\" :\n [ 1 ,\t\"c \\\" d\" ] }"
	assert.Equal(t, `{"a b":[1,"c \" d"]}`, string(jsonobj.AppendCompact(nil, []byte(in))))
}

func TestEncodedMembersAreCopiedWhereAdded(t *testing.T) {
	pre := jsonobj.NewBuilder(jsonobj.Options{})
	pre.Root().Int("a", 1)
	pre.Root().String("skipped", "")
	pre.Root().Object("o").String("b", "x")
	members := pre.Root().AppendMembers(nil)
	assert.Equal(t, `,"a":1,"o":{"b":"x"}`, string(members))
	assert.Empty(t, jsonobj.NewBuilder(jsonobj.Options{}).Root().AppendMembers(nil))

	b := jsonobj.NewBuilder(jsonobj.Options{})
	root := b.Root()
	root.Encoded(members)
	root.String("after", "y")
	root.Object("child").Encoded(members)
	root.Encoded(nil)
	assert.Equal(t, `{"a":1,"o":{"b":"x"},"after":"y","child":{"a":1,"o":{"b":"x"}}}`, string(root.AppendJSON(nil)))
}
