package embeddednats

import (
	"strings"
	"testing"
)

// What Announce writes, AnnouncedURL reads back; any other line is no
// announcement.
func TestAnnouncedURLReadsWhatAnnounceWrote(t *testing.T) {
	var line strings.Builder
	Announce(&line, "nats://127.0.0.1:40123")
	url, ok := AnnouncedURL(strings.TrimSuffix(line.String(), "\n"))
	if !ok || url != "nats://127.0.0.1:40123" {
		t.Fatalf("AnnouncedURL(%q) = %q, %v", line.String(), url, ok)
	}
	for _, other := range []string{"", "achat nats: listen tcp: address in use", "NATS with JetStream on nats://x"} {
		if url, ok := AnnouncedURL(other); ok {
			t.Errorf("AnnouncedURL(%q) = %q, true; want false", other, url)
		}
	}
}
