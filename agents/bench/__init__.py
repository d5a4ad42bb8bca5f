"""``detoxmon bench``: end-to-end throughput, latency and memory of the pipeline.

The benchmark drives whatever ``detoxmon worker`` runs through its public contract only
(events into the inbound topic; points in InfluxDB, transitions on the alerts topic and pages
at a webhook out), and measures in the same run, on the same messages, the ceilings it is
judged against: raw aiokafka with JSON decoding, a bare Faust agent, and a naive pipeline.
"""
