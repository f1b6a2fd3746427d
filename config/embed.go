// Package config holds the example pipelines. The demo pipeline is embedded so
// that `compliance-connect demo` runs from anywhere.
package config

import _ "embed"

// Demo is config/demo.yaml.
//
//go:embed demo.yaml
var Demo []byte
