package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"
)

// syncBuffer is written by run's goroutine and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunServesWhatItWasGiven(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bundle.tar.gz")
	os.WriteFile(file, []byte("bundle bytes"), 0o600)
	ctx, cancel := context.WithCancel(t.Context())
	var out, errs syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--put", "corp-policy/hpcgate/bundle.tar.gz=" + file},
			func(string) string { return "" }, &out, &errs)
	}()
	re := regexp.MustCompile(`endpoint:\s+(\S+)`)
	deadline := time.Now().Add(10 * time.Second)
	for !re.MatchString(out.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("no endpoint printed: %s %s", out.String(), errs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	endpoint := re.FindStringSubmatch(out.String())[1]
	c := oss.NewClient(oss.LoadDefaultConfig().WithRegion("cn-hangzhou").WithEndpoint(endpoint).
		WithCredentialsProvider(credentials.NewStaticCredentialsProvider(defaultAccessKeyID, defaultAccessKeySecret)))
	res, err := c.GetObject(t.Context(), &oss.GetObjectRequest{Bucket: oss.Ptr("corp-policy"), Key: oss.Ptr("hpcgate/bundle.tar.gz")})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(b) != "bundle bytes" {
		t.Fatalf("got %q", b)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestRunRejects(t *testing.T) {
	for _, args := range [][]string{
		{"--listen", "10.0.0.1:0"},
		{"--put", "nobucket"},
		{"extra"},
	} {
		if err := run(t.Context(), args, func(string) string { return "" }, io.Discard, io.Discard); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
