package main

import (
	// Every core component, as in a stock Benthos build.
	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure/extended"

	// This project's plugins.
	_ "github.com/compliance-connect/compliance-connect/caches/atomicfile"
	_ "github.com/compliance-connect/compliance-connect/caches/redis"
	_ "github.com/compliance-connect/compliance-connect/input/compliance"
	_ "github.com/compliance-connect/compliance-connect/metrics/prometheus"
	_ "github.com/compliance-connect/compliance-connect/outputs/awss3"
	_ "github.com/compliance-connect/compliance-connect/outputs/elasticsearch"
	_ "github.com/compliance-connect/compliance-connect/outputs/kafka"
	_ "github.com/compliance-connect/compliance-connect/outputs/splunk"
	_ "github.com/compliance-connect/compliance-connect/processors/ecs"
	_ "github.com/compliance-connect/compliance-connect/processors/ocsf"
)
