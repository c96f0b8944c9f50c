package train

// AlarmKey is the metrics.jsonl field holding a collapse alarm message.
const AlarmKey = "alarm"
