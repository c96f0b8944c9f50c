package report

import "html/template"

// pageTmpl is the report page: small inline CSS, inline SVG figures, no scripts.
var pageTmpl = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans",Arial,sans-serif;margin:0 auto;max-width:1400px;padding:1rem 2rem;color:#222;line-height:1.4}
h1{font-size:1.6rem;margin:.5rem 0}h2{font-size:1.3rem;margin-top:2rem;border-bottom:1px solid #ccc;padding-bottom:.2rem}h3{font-size:1.05rem}
nav a{margin-right:1rem}
.path{color:#666;font-family:ui-monospace,monospace;font-size:.85rem}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(480px,1fr));gap:1rem}
figure{margin:0;border:1px solid #e4e4e4;border-radius:4px;padding:.4rem;background:#fff}
figure svg{width:100%;height:auto;display:block}
figcaption{font-size:.85rem;color:#555;margin-top:.2rem}
svg text{font-family:"Liberation Sans",Arial,Helvetica,sans-serif}
table{border-collapse:collapse;font-size:.9rem;margin:.5rem 0}
th,td{border:1px solid #ddd;padding:.25rem .6rem;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
dl.config{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:0 1rem;font-size:.85rem;margin:.5rem 0}
dl.config div{display:flex;gap:.4rem;border-bottom:1px dotted #ddd}
dl.config dt{color:#666}dl.config dd{margin:0;font-family:ui-monospace,monospace;word-break:break-all}
.note{color:#8a5a00;font-size:.9rem}
.formula{font-family:ui-monospace,monospace;background:#f6f6f6;padding:.4rem .6rem;display:inline-block}
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<nav>{{if .ShowSummary}}<a href="#summary">Summary</a>{{end}}{{if .Compare}}<a href="#compare">Comparison</a>{{end}}{{if .Predictor}}<a href="#predictor">Predictor</a>{{end}}{{range .Runs}}<a href="#{{.ID}}">{{.Name}}</a>{{end}}</nav>
{{range .Notes}}<p class="note">{{.}}</p>
{{end}}
{{- if .ShowSummary}}
<h2 id="summary">Summary</h2>
<table>
<thead><tr><th>run</th><th>steps</th><th>final loss</th><th>AUC</th><th>RankMe</th><th>k-NN acc</th><th>linear acc</th><th>val loss</th>{{if .Predictor}}<th>predicted acc</th>{{end}}</tr></thead>
<tbody>
{{- range .Rows}}
<tr><td>{{.Name}}</td><td>{{.Steps}}</td><td>{{.Loss}}</td><td>{{.AUC}}</td><td>{{.RankMe}}</td><td>{{.KNN}}</td><td>{{.Linear}}</td><td>{{.ValLoss}}</td>{{if $.Predictor}}<td>{{.Pred}}</td>{{end}}</tr>
{{- end}}
</tbody>
</table>
{{range .Footnotes}}<p class="path">{{.}}</p>
{{end}}
{{- end}}
{{- if .Compare}}
<h2 id="compare">Comparison across runs</h2>
<div class="grid">
{{- range .Compare}}
<figure>{{.SVG}}<figcaption>{{.Caption}}</figcaption></figure>
{{- end}}
</div>
{{- end}}
{{- with .Predictor}}
<h2 id="predictor">Label-free accuracy predictor</h2>
<p>Least-squares fit of {{.Accuracy}} accuracy on validation loss and collapse AUC across runs (paper Section 3.5): </p>
<p class="formula">{{.Formula}}</p>
<table>
<thead><tr><th>features</th><th>a (val loss)</th><th>b (AUC)</th><th>c</th><th>R²</th><th>RMSE (pts)</th></tr></thead>
<tbody>
{{- range .Fits}}
<tr><td>{{.Kind}}</td><td>{{.A}}</td><td>{{.B}}</td><td>{{.C}}</td><td>{{.R2}}</td><td>{{.RMSE}}</td></tr>
{{- end}}
</tbody>
</table>
{{range .Excluded}}<p class="note">Not fitted: {{.}}</p>
{{end}}
<div class="grid"><figure>{{.Figure.SVG}}<figcaption>{{.Figure.Caption}}</figcaption></figure></div>
{{- end}}
{{- range .Runs}}
<h2 id="{{.ID}}">Run {{.Name}}</h2>
<p class="path">{{.Dir}}</p>
{{- if .ConfigNote}}<p class="note">{{.ConfigNote}}</p>{{end}}
{{- if .Config}}
<dl class="config">
{{- range .Config}}<div><dt>{{.Key}}</dt><dd>{{.Value}}</dd></div>{{end}}
</dl>
{{- end}}
{{range .Notes}}<p class="note">{{.}}</p>
{{end}}
<div class="grid">
{{- range .Figures}}
<figure>{{.SVG}}<figcaption>{{.Caption}}</figcaption></figure>
{{- end}}
</div>
{{- end}}
</body>
</html>
`))
