package repair

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/compliance-connect/compliance-connect/input/compliance"
)

// Derive returns the config of the repair run of pipeline (see the package
// documentation for what changes). It works on the YAML tree as written, so
// ${VAR} references, comments and scalar styles stay as they are and are
// expanded once, by the stream, as `run` expands them.
func Derive(pipeline []byte, t Target) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(pipeline, &doc); err != nil {
		return nil, fmt.Errorf("reading the config: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("reading the config: not a YAML mapping")
	}
	root := doc.Content[0]
	in, err := chooseInput(root, t.Label)
	if err != nil {
		return nil, err
	}
	block := get(in, compliance.Name)
	if block == nil || block.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("input %q: %s is not a mapping", t.Label, compliance.Name)
	}
	if err := restrictEndpoint(block, t); err != nil {
		return nil, fmt.Errorf("input %q: %w", t.Label, err)
	}
	set(block, "state", mapping("path", str(t.StateDir)))
	set(block, "auto_replay_nacks", boolean(false))
	if t.MaxSlice > 0 {
		set(block, "max_slice", str(seconds(t.MaxSlice)))
	}
	set(root, "input", in)
	// Input resources are built (and an input starts reading) whether or not
	// anything names them; the chosen one is inlined above.
	del(root, "input_resources")
	del(root, "tests") // config unit tests are not part of a stream config
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}

// chooseInput returns a copy of the anthropic_compliance input labelled
// label: the root input itself, or an input resource that the root input
// names (`input: {resource: label}`), with the root input's processors
// appended to its own, as Benthos applies them.
func chooseInput(root *yaml.Node, label string) (*yaml.Node, error) {
	top := get(root, "input")
	if top != nil && top.Kind == yaml.MappingNode && get(top, compliance.Name) != nil && labelOf(top) == label {
		return clone(top), nil
	}
	var res *yaml.Node
	if list := get(root, "input_resources"); list != nil && list.Kind == yaml.SequenceNode {
		for _, item := range list.Content {
			if item.Kind == yaml.MappingNode && get(item, compliance.Name) != nil && labelOf(item) == label {
				res = item
			}
		}
	}
	if res == nil {
		return nil, fmt.Errorf("the config has no %s input labelled %q at input or in input_resources", compliance.Name, label)
	}
	name := ""
	if top != nil {
		if r := get(top, "resource"); r != nil {
			name = r.Value
		}
	}
	if name != label {
		return nil, fmt.Errorf("--repair runs input %q alone, so it must be the pipeline's input or be named by it "+
			"(input: {resource: %s}); here it is used another way (a broker or another wrapper), whose processors "+
			"a repair could not apply", label, label)
	}
	in := clone(res)
	if extra := get(top, "processors"); extra != nil && extra.Kind == yaml.SequenceNode && len(extra.Content) > 0 {
		own := get(in, "processors")
		if own == nil || own.Kind != yaml.SequenceNode {
			own = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
			set(in, "processors", own)
		}
		own.Content = append(own.Content, extra.Content...)
	}
	return in, nil
}

// restrictEndpoint keeps only the target's endpoint and turns it into the
// repair's once run.
func restrictEndpoint(block *yaml.Node, t Target) error {
	var ep *yaml.Node
	if list := get(block, "endpoints"); list != nil && list.Kind == yaml.SequenceNode {
		for _, item := range list.Content {
			name := "activities"
			if n := get(item, "name"); n != nil {
				name = n.Value
			}
			if item.Kind == yaml.MappingNode && name == t.Endpoint {
				ep = item
			}
		}
	} else if list == nil && t.Endpoint == "activities" {
		ep = mapping("name", str("activities")) // the default endpoint list
	}
	if ep == nil {
		return fmt.Errorf("no endpoint %q", t.Endpoint)
	}
	set(ep, "enabled", boolean(true))
	set(ep, "schedule", str("once"))
	set(ep, "run_on_start", boolean(true))
	set(ep, "earliest", str(t.Range.From.UTC().Format(time.RFC3339)))
	set(ep, "latest", str(t.Range.To.UTC().Format(time.RFC3339)))
	set(ep, "timezone", str("UTC"))
	set(ep, "job_timeout", str(seconds(t.JobTimeout)))
	set(ep, "only_ids_file", str(t.IDsFile))
	st := get(ep, "state_tracking")
	if st == nil || st.Kind != yaml.MappingNode {
		st = mapping()
		set(ep, "state_tracking", st)
	}
	set(st, "enabled", boolean(false))
	set(block, "endpoints", &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{ep}})
	return nil
}

func labelOf(in *yaml.Node) string {
	if l := get(in, "label"); l != nil {
		return l.Value
	}
	return ""
}

func seconds(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) + "s" }

// get returns the value of key in mapping m, or nil.
func get(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// set replaces or appends key in mapping m.
func set(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, str(key), v)
}

// del removes key from mapping m.
func del(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}

// clone copies a mapping's key/value list (the values are shared: the
// derived tree is encoded once and dropped).
func clone(m *yaml.Node) *yaml.Node {
	c := *m
	c.Content = append([]*yaml.Node(nil), m.Content...)
	return &c
}

func str(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }

func boolean(v bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v)}
}

// mapping builds a mapping of key, value pairs.
func mapping(kv ...any) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i := 0; i+1 < len(kv); i += 2 {
		m.Content = append(m.Content, str(kv[i].(string)), kv[i+1].(*yaml.Node))
	}
	return m
}
