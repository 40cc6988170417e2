# ruby-jaeger-client (Debian) reporting two spans over the agent UDP port (compact Thrift).
# Usage: ruby_jaeger_client.rb PORT; prints the IDs the tracer chose as one JSON line.
require 'jaeger/client'
require 'json'
port = Integer(ARGV[0])
tracer = Jaeger::Client.build(service_name: 'ruby-checkout', host: '127.0.0.1', port: port, flush_interval: 0.1, tags: { 'hostname' => 'ruby-host-1' }, logger: Logger.new($stderr))
root = tracer.start_span('GET /checkout', tags: { 'span.kind' => 'server', 'http.status_code' => 200 })
child = tracer.start_span('SELECT orders', child_of: root, tags: { 'span.kind' => 'client', 'db.rows' => 3, 'ratio' => 0.25, 'cache' => true })
child.log_kv(event: 'retry', attempt: 2)
child.set_tag('error', true)
child.finish
root.finish
sleep 0.5
c = root.context
puts JSON.generate({ trace_id: c.to_trace_id, root: c.to_span_id, child: child.context.to_span_id })
