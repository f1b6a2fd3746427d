// Package s3 audits a bucket and prefix written by the aws_s3 output: it
// lists the objects with aws-sdk-go-v2 and streams each one (gzip or plain
// NDJSON), never holding an object in memory.
package s3

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/compliance-connect/compliance-connect/audit"
	"github.com/compliance-connect/compliance-connect/audit/file"
)

// Client is the part of the S3 client an audit uses.
type Client interface {
	awss3.ListObjectsV2APIClient
	GetObject(ctx context.Context, in *awss3.GetObjectInput, opts ...func(*awss3.Options)) (*awss3.GetObjectOutput, error)
}

// Destination is the objects under a prefix of a bucket.
type Destination struct {
	Client Client
	Bucket string
	// Prefix is the key prefix listed ("" = the whole bucket).
	Prefix string
	// Match, when set, keeps only the keys it matches (the aws_s3 output's
	// path with its interpolations as wildcards).
	Match *regexp.Regexp
	// Fields locate the id and created_at in each document.
	Fields audit.Fields
	// Slack: an object last modified more than Slack before the window's
	// start cannot hold its activities and is not read. Negative reads all.
	Slack time.Duration
}

func (d *Destination) String() string { return "s3://" + d.Bucket + "/" + d.Prefix }

// Scan lists the prefix and reads every object that may hold activities of w.
func (d *Destination) Scan(ctx context.Context, w audit.Window, sink *audit.Sink) error {
	pages := awss3.NewListObjectsV2Paginator(d.Client, &awss3.ListObjectsV2Input{
		Bucket: aws.String(d.Bucket),
		Prefix: aws.String(d.Prefix),
	})
	read, skipped := 0, 0
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("listing s3://%s/%s: %w", d.Bucket, d.Prefix, err)
		}
		for _, obj := range page.Contents {
			key := aws.ToString(obj.Key)
			if d.Match != nil && !d.Match.MatchString(key) {
				continue
			}
			if d.Slack >= 0 && obj.LastModified != nil && obj.LastModified.Before(w.From.Add(-d.Slack)) {
				skipped++
				continue
			}
			if err := d.read(ctx, key, sink); err != nil {
				return err
			}
			read++
		}
	}
	sink.Note(fmt.Sprintf("%d objects read", read))
	if skipped > 0 {
		sink.Note(fmt.Sprintf("%d objects last modified before %s skipped: they cannot hold activities of the window", skipped, w.From.Add(-d.Slack).UTC().Format(time.RFC3339)))
	}
	return nil
}

func (d *Destination) read(ctx context.Context, key string, sink *audit.Sink) error {
	out, err := d.Client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(d.Bucket), Key: aws.String(key)})
	if err != nil {
		return fmt.Errorf("reading s3://%s/%s: %w", d.Bucket, key, err)
	}
	defer out.Body.Close()
	return file.ReadMaybeGzip(out.Body, key, d.Fields, sink)
}
