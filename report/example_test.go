package report_test

import (
	"fmt"
	"log"
	"path/filepath"
	"strings"

	"github.com/siam-ssl/siam/report"
)

// Build a report of five small runs (different data orderings of one model) and
// look at what it contains. `siam report RUN_DIR... --out report.html` does the same
// and writes the page atomically.
func ExampleBuild() {
	runs, err := filepath.Glob("testdata/runs/*")
	if err != nil {
		log.Fatal(err)
	}
	html, err := report.Build(runs, report.Options{Title: "Data orderings"})
	if err != nil {
		log.Fatal(err)
	}
	page := string(html)
	fmt.Println("runs:", len(runs))
	fmt.Println("inline figures:", strings.Count(page, "<svg"))
	for _, section := range []string{"summary", "compare", "predictor"} {
		fmt.Printf("section %s: %v\n", section, strings.Contains(page, `id="`+section+`"`))
	}
	fmt.Println("external assets:", strings.Contains(page, "http://") && strings.Contains(page, "src="))
	// Output:
	// runs: 5
	// inline figures: 31
	// section summary: true
	// section compare: true
	// section predictor: true
	// external assets: false
}
