#!/usr/bin/env bash
# s3server.sh - run a throwaway single-node OpenStack Swift with its s3api
# layer, the S3 server the tests and benchmarks of bk-s3put, bk-s3get and
# bk-s3ls run against.
#
#   t/s3server.sh start DIR   write configs, rings and a device under DIR
#                             (made if missing; the caller owns and removes
#                             it), start the proxy, account, container and
#                             object servers on free ports on 127.0.0.1 and
#                             wait (30 s at most) until they serve.  Writes
#                             DIR/env, a shell file to source: it exports
#                             BK_S3_TEST_ENDPOINT and AWS_ENDPOINT_URL
#                             (http://127.0.0.1:PORT), the credentials
#                             (test:tester / testing), region us-east-1,
#                             S3CMD_CONFIG (DIR/s3cfg, for s3cmd) and an
#                             rclone remote `bks3:`, and neutralises the
#                             caller's AWS settings (~/.aws, profiles,
#                             session tokens, AWS_CA_BUNDLE, proxies).
#                             Prints nothing on success.
#   t/s3server.sh stop DIR    stop the servers (TERM, then KILL after 5 s).
#                             DIR, with the data and the logs, stays.
#   t/s3server.sh mb DIR BUCKET...
#                             create buckets (a SigV4 PUT; an existing one
#                             is fine).
#
# start on a running server does nothing; stop on a stopped one (or a
# missing DIR) neither.  Logs are in DIR/log/{proxy,account,container,
# object}.log.  Clients:
#   . DIR/env
#   /usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" s3 ls s3://bucket
#   s3cmd ls s3://bucket
#   env -u AWS_CA_BUNDLE rclone ls bks3:bucket
#   curl --aws-sigv4 aws:amz:us-east-1:s3 \
#       -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
#       "http://test%3Atester:testing@${BK_S3_TEST_ENDPOINT#http://}/bucket/"
# (curl: --user would split the key test:tester at its colon, s3api wants
# that header, and curl 7.88 signs a query wrongly unless it is already
# encoded: prefix=a%2F, not prefix=a/).
#
# What the server is: Swift's s3api with tempauth, user test:tester, secret
# `testing`, location us-east-1, up to 10000 parts of 5 MiB or more,
# objects and parts up to 5 GiB, path style (or virtual-host style at
# BUCKET.s3.localhost).  For tests only: memcache is off, and so are
# fsync and the object server's page-cache dropping.  The daemons run as
# the caller (root is fine).  Needs the Debian packages swift, swift-proxy,
# swift-account, swift-container and swift-object (make deps).
set -euo pipefail

prog=s3server.sh
py=/usr/bin/python3

die() {
	echo "$prog: $*" >&2
	exit 1
}

usage() {
	echo "usage: $prog start|stop DIR | mb DIR BUCKET..." >&2
	exit 2
}

servers="account container object proxy"

# The python half: the daemon launcher (and the rings) and mb.  Written to
# DIR/etc/s3server.py at each start.
write_helper() {
	cat >"$dir/etc/s3server.py" <<-'EOF'
	# written by t/s3server.sh at each start
	import os
	import sys


	def rings(etc, ports):
	    from swift.common.ring import RingBuilder
	    for name, port in zip(('account', 'container', 'object'), ports):
	        b = RingBuilder(6, 1, 0)
	        b.add_dev({'id': 0, 'region': 1, 'zone': 1, 'ip': '127.0.0.1',
	                   'port': int(port), 'device': 'd1', 'weight': 100,
	                   'meta': ''})
	        b.rebalance(seed=1)
	        b.get_ring().save(os.path.join(etc, name + '.ring.gz'))


	def serve(etc, name, ports):
	    # Keep none of the caller's descriptors (a bats run waits on fd 3).
	    for fd in [int(f) for f in os.listdir('/proc/self/fd')]:
	        if fd > 2:
	            try:
	                os.close(fd)
	            except OSError:
	                pass
	    import functools
	    import inspect
	    from swift.common import utils
	    # Swift reads swift.conf from /etc/swift whatever swift_dir says;
	    # this must be set before anything imports the constraints.
	    utils.SWIFT_CONF_FILE = os.path.join(etc, 'swift.conf')
	    # Tests only: no fsync, and keep what is written in the page cache.
	    utils.fsync = utils.fdatasync = lambda fd: None
	    utils.drop_buffer_cache = lambda fd, offset, length: None
	    # Timestamps in the log lines.
	    params = list(inspect.signature(utils.get_logger).parameters)
	    if 'fmt' in params and utils.get_logger.__defaults__:
	        d = list(utils.get_logger.__defaults__)
	        i = params.index('fmt') - (len(params) - len(d))
	        if 0 <= i < len(d):
	            d[i] = '%(asctime)s %(server)s: %(message)s'
	            utils.get_logger.__defaults__ = tuple(d)
	    # Only the proxy reads the rings: it builds them (faster here than in
	    # a python of their own).
	    if name == 'proxy':
	        rings(etc, ports)
	    import eventlet
	    from swift.common import wsgi
	    # eventlet sets SO_REUSEPORT, so a second server on the same port
	    # would share it silently instead of failing to bind.
	    wsgi.listen = functools.partial(eventlet.listen, reuse_port=False)
	    section = name + '-server'
	    sys.exit(wsgi.run_wsgi(os.path.join(etc, section + '.conf'), section,
	                           verbose=True))


	def mb(endpoint, buckets):
	    import datetime
	    import hashlib
	    import hmac
	    import http.client
	    import re
	    import urllib.parse
	    akid, secret, region = 'test:tester', 'testing', 'us-east-1'
	    u = urllib.parse.urlsplit(endpoint)
	    empty = hashlib.sha256(b'').hexdigest()
	    for bucket in buckets:
	        path = '/' + urllib.parse.quote(bucket, safe='')
	        t = datetime.datetime.utcnow().strftime('%Y%m%dT%H%M%SZ')
	        scope = '%s/%s/s3/aws4_request' % (t[:8], region)
	        signed = 'host;x-amz-content-sha256;x-amz-date'
	        creq = '\n'.join(['PUT', path, '', 'host:' + u.netloc,
	                          'x-amz-content-sha256:' + empty,
	                          'x-amz-date:' + t, '', signed, empty])
	        sts = '\n'.join(['AWS4-HMAC-SHA256', t, scope,
	                         hashlib.sha256(creq.encode()).hexdigest()])
	        k = ('AWS4' + secret).encode()
	        for m in (t[:8], region, 's3', 'aws4_request'):
	            k = hmac.new(k, m.encode(), hashlib.sha256).digest()
	        sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
	        auth = ('AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, '
	                'Signature=%s' % (akid, scope, signed, sig))
	        c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
	        c.request('PUT', path, body=b'', headers={
	            'Authorization': auth, 'x-amz-date': t,
	            'x-amz-content-sha256': empty})
	        r = c.getresponse()
	        body = r.read().decode('utf-8', 'replace')
	        c.close()
	        code = re.search(r'<Code>(.*?)</Code>', body)
	        code = code.group(1) if code else ''
	        if r.status == 200 or code == 'BucketAlreadyOwnedByYou':
	            continue
	        msg = re.search(r'<Message>(.*?)</Message>', body)
	        sys.exit('s3server.sh: mb %s: %d %s%s' % (
	            bucket, r.status, code or r.reason,
	            ': ' + msg.group(1) if msg else ''))


	if __name__ == '__main__':
	    if sys.argv[1] == 'serve':
	        serve(sys.argv[2], sys.argv[3], sys.argv[4:7])
	    elif sys.argv[1] == 'mb':
	        mb(sys.argv[2], sys.argv[3:])
	EOF
}

# write_confs APORT CPORT OPORT PPORT
write_confs() {
	local etc=$dir/etc user
	user=$(id -un)
	cat >"$etc/swift.conf" <<-'EOF'
	# written by t/s3server.sh
	[swift-hash]
	swift_hash_path_suffix = bk-s3server
	swift_hash_path_prefix = bk-s3server

	[storage-policy:0]
	name = Policy-0
	default = yes

	[swift-constraints]
	# S3's limit for an object in one PUT and for a part: 5 GiB.
	max_file_size = 5368709120
	EOF

	# The backends: generous timeouts so that a busy machine makes no
	# async pendings (no updater runs: an object would miss its listing).
	local name port i=1
	for name in account container object; do
		eval "port=\${$i}"
		i=$((i + 1))
		cat >"$etc/$name-server.conf" <<-EOF
		# written by t/s3server.sh
		[DEFAULT]
		bind_ip = 127.0.0.1
		bind_port = $port
		bind_timeout = 1
		workers = 0
		user = $user
		swift_dir = $etc
		devices = $dir/srv
		mount_check = false
		disable_fallocate = true
		log_name = $name
		conn_timeout = 5
		node_timeout = 30

		[pipeline:main]
		pipeline = $name-server

		[app:$name-server]
		use = egg:swift#$name
		EOF
	done
	echo 'container_update_timeout = 30' >>"$etc/object-server.conf"

	cat >"$etc/proxy-server.conf" <<-EOF
	# written by t/s3server.sh
	[DEFAULT]
	bind_ip = 127.0.0.1
	bind_port = $4
	bind_timeout = 1
	workers = 0
	user = $user
	swift_dir = $etc
	log_name = proxy

	[pipeline:main]
	pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth copy slo dlo versioned_writes proxy-logging proxy-server

	[app:proxy-server]
	use = egg:swift#proxy
	account_autocreate = true
	conn_timeout = 5
	node_timeout = 30
	recoverable_node_timeout = 30

	[filter:s3api]
	use = egg:swift#s3api
	location = us-east-1
	storage_domain = s3.localhost
	max_upload_part_num = 10000

	[filter:tempauth]
	use = egg:swift#tempauth
	user_test_tester = testing .admin

	[filter:cache]
	use = egg:swift#memcache
	# Nothing listens there: no cache (so no tempauth tokens: use S3), no
	# sharing with other servers, and no error line at each request.
	memcache_servers = 127.0.0.1:1
	log_level = CRITICAL

	[filter:slo]
	use = egg:swift#slo
	max_manifest_segments = 10000
	max_manifest_size = 67108864
	rate_limit_segments_per_sec = 0

	[filter:dlo]
	use = egg:swift#dlo
	rate_limit_segments_per_sec = 0

	[filter:catch_errors]
	use = egg:swift#catch_errors

	[filter:gatekeeper]
	use = egg:swift#gatekeeper

	[filter:healthcheck]
	use = egg:swift#healthcheck

	[filter:proxy-logging]
	use = egg:swift#proxy_logging

	[filter:listing_formats]
	use = egg:swift#listing_formats

	[filter:copy]
	use = egg:swift#copy

	[filter:versioned_writes]
	use = egg:swift#versioned_writes
	EOF
}

write_env() {
	local ep=http://127.0.0.1:$1 v
	cat >"$dir/s3cfg" <<-EOF
	# written by t/s3server.sh; s3cmd -c $dir/s3cfg (or S3CMD_CONFIG)
	[default]
	access_key = test:tester
	secret_key = testing
	host_base = 127.0.0.1:$1
	host_bucket = 127.0.0.1:$1
	bucket_location = us-east-1
	use_https = False
	signature_v2 = False
	check_ssl_certificate = False
	proxy_host =
	EOF
	: >"$dir/rclone.conf"
	{
		echo "# written by t/s3server.sh; source it: . $dir/env"
		for v in AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN \
		    AWS_SECURITY_TOKEN AWS_ROLE_ARN AWS_ROLE_SESSION_NAME \
		    AWS_WEB_IDENTITY_TOKEN_FILE AWS_CA_BUNDLE \
		    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI \
		    AWS_CONTAINER_CREDENTIALS_FULL_URI \
		    AWS_CONTAINER_AUTHORIZATION_TOKEN \
		    AWS_USE_FIPS_ENDPOINT AWS_USE_DUALSTACK_ENDPOINT \
		    AWS_IGNORE_CONFIGURED_ENDPOINT_URLS AWS_CLI_AUTO_PROMPT \
		    AWS_S3_US_EAST_1_REGIONAL_ENDPOINT; do
			echo "unset $v"
		done
		printf 'export BK_S3_TEST_DIR=%q\n' "$dir"
		printf 'export BK_S3_TEST_ENDPOINT=%q\n' "$ep"
		printf 'export BK_S3_TEST_LOGS=%q\n' "$dir/log"
		printf 'export AWS_ENDPOINT_URL=%q\n' "$ep"
		printf 'export AWS_ENDPOINT_URL_S3=%q\n' "$ep"
		echo 'export AWS_ACCESS_KEY_ID=test:tester'
		echo 'export AWS_SECRET_ACCESS_KEY=testing'
		echo 'export AWS_REGION=us-east-1'
		echo 'export AWS_DEFAULT_REGION=us-east-1'
		printf 'export AWS_CONFIG_FILE=%q\n' "$dir/aws/config"
		printf 'export AWS_SHARED_CREDENTIALS_FILE=%q\n' "$dir/aws/credentials"
		echo 'export AWS_EC2_METADATA_DISABLED=true'
		echo 'export AWS_REQUEST_CHECKSUM_CALCULATION=WHEN_REQUIRED'
		echo 'export AWS_RESPONSE_CHECKSUM_VALIDATION=WHEN_REQUIRED'
		echo 'export AWS_PAGER='
		printf 'export S3CMD_CONFIG=%q\n' "$dir/s3cfg"
		printf 'export RCLONE_CONFIG=%q\n' "$dir/rclone.conf"
		echo 'export RCLONE_CONFIG_BKS3_TYPE=s3'
		echo 'export RCLONE_CONFIG_BKS3_PROVIDER=Other'
		echo 'export RCLONE_CONFIG_BKS3_ENV_AUTH=false'
		echo 'export RCLONE_CONFIG_BKS3_ACCESS_KEY_ID=test:tester'
		echo 'export RCLONE_CONFIG_BKS3_SECRET_ACCESS_KEY=testing'
		echo 'export RCLONE_CONFIG_BKS3_REGION=us-east-1'
		printf 'export RCLONE_CONFIG_BKS3_ENDPOINT=%q\n' "$ep"
		echo 'export RCLONE_CONFIG_BKS3_FORCE_PATH_STYLE=true'
		# A proxy must not see requests to 127.0.0.1.
		# shellcheck disable=SC2016
		echo 'export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"'
		# shellcheck disable=SC2016
		echo 'export no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"'
	} >"$dir/env.tmp"
	mv -f "$dir/env.tmp" "$dir/env"
}

# port_busy PORT: something accepts connections on 127.0.0.1:PORT.
port_busy() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# listening PID PORT: PID (itself, not another server) listens on
# 127.0.0.1:PORT.
listening() {
	local inode
	while read -r inode; do
		find "/proc/$1/fd" -lname "socket:?$inode?" 2>/dev/null |
		    grep -q . && return 0
	done < <(awk -v a="$(printf '0100007F:%04X' "$2")" \
	    '$2 == a && $4 == "0A" { print $10 }' /proc/net/tcp)
	return 1
}

# healthy PORT: the proxy on PORT answers /healthcheck with 200.
healthy() {
	local line
	line=$( (exec 3<>"/dev/tcp/127.0.0.1/$1" &&
	    printf 'GET /healthcheck HTTP/1.0\r\n\r\n' >&3 &&
	    timeout 5 head -n 1 <&3) 2>/dev/null) || return 1
	case $line in
	"HTTP/1."?" 200 "*) return 0 ;;
	esac
	return 1
}

# ours PID: PID is one of the daemons started for this DIR.
ours() {
	[ -n "$1" ] && tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" |
	    grep -qF "$dir/etc/s3server.py serve"
}

# pids: the recorded PIDs that are still our daemons.
pids() {
	local s p
	for s in $servers; do
		p=$(cat "$dir/run/$s.pid" 2>/dev/null || true)
		if ours "$p"; then echo "$p"; fi
	done
}

stop_daemons() {
	local p left i
	left=$(pids)
	[ -n "$left" ] || return 0
	# shellcheck disable=SC2086
	kill -TERM $left 2>/dev/null || true
	for i in $(seq 50); do
		left=$(pids)
		[ -n "$left" ] || break
		sleep 0.1
	done
	if [ -n "$left" ]; then
		# shellcheck disable=SC2086
		kill -KILL $left 2>/dev/null || true
		for i in $(seq 20); do
			[ -n "$(pids)" ] || break
			sleep 0.1
		done
	fi
	for p in $(pids); do
		echo "$prog: pid $p would not die" >&2
	done
	rm -f "$dir"/run/*.pid
}

# running: all four daemons are up and the proxy is healthy.
running() {
	local port
	[ "$(pids | wc -l)" -eq 4 ] || return 1
	port=$(cat "$dir/run/proxy.port" 2>/dev/null) || return 1
	healthy "$port"
}

# last_error LOG: its most telling line, for a one-line error.
last_error() {
	local line
	line=$(grep -E 'ERROR|Error|Exception|CRITICAL|Could not' "$1" 2>/dev/null |
	    tail -n 1 || true)
	[ -n "$line" ] || line=$(tail -n 1 "$1" 2>/dev/null || true)
	printf '%s' "$line"
}

# pick_ports: four distinct free ports below the ephemeral range.
pick_ports() {
	local p
	ports=
	while [ "$(echo "$ports" | wc -w)" -lt 4 ]; do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 12700))
		case " $ports " in *" $p "*) continue ;; esac
		port_busy "$p" && continue
		ports="$ports $p"
	done
}

start() {
	local s deadline dead ports

	mkdir -p "$dir" || die "$dir: cannot create directory"
	dir=$(cd "$dir" && pwd -P)
	if running && [ -f "$dir/env" ]; then
		return 0
	fi
	[ -x "$py" ] || die "$py not found (make deps)"
	for s in $servers; do
		[ -x "/usr/bin/swift-$s-server" ] ||
		    die "swift-$s-server not found: Swift is not installed (make deps)"
	done
	stop_daemons
	mkdir -p "$dir/etc" "$dir/srv/d1" "$dir/log" "$dir/run" ||
	    die "$dir: cannot create its subdirectories"
	write_helper

	# A port free now may be taken before a daemon binds it (by another
	# test's server, say): a daemon that cannot bind exits after 1 s, and
	# the start is retried on new ports.
	for _ in 1 2 3 4 5; do
		pick_ports
		# shellcheck disable=SC2086
		set -- $ports
		write_confs "$@"
		echo "$4" >"$dir/run/proxy.port"
		for s in $servers; do
			echo "=== $(date -u '+%Y-%m-%d %H:%M:%S') start" \
			    >>"$dir/log/$s.log"
			(cd / && exec "$py" -I "$dir/etc/s3server.py" serve \
			    "$dir/etc" "$s" "$1" "$2" "$3" \
			    </dev/null >>"$dir/log/$s.log" 2>&1) &
			echo $! >"$dir/run/$s.pid"
		done

		deadline=$((SECONDS + 30))
		dead=
		while :; do
			for s in $servers; do
				ours "$(cat "$dir/run/$s.pid")" || dead=$s
			done
			[ -z "$dead" ] || break
			if listening "$(cat "$dir/run/account.pid")" "$1" &&
			    listening "$(cat "$dir/run/container.pid")" "$2" &&
			    listening "$(cat "$dir/run/object.pid")" "$3" &&
			    listening "$(cat "$dir/run/proxy.pid")" "$4" &&
			    healthy "$4"; then
				write_env "$4"
				return 0
			fi
			[ "$SECONDS" -lt "$deadline" ] || break
			sleep 0.1
		done
		stop_daemons
		if [ -z "$dead" ]; then
			die "not ready after 30 s (see $dir/log/*.log)"
		fi
		grep -q -e 'Could not bind' -e 'Address already in use' \
		    "$dir/log/$dead.log" 2>/dev/null ||
		    die "the $dead server died (see $dir/log/$dead.log): $(last_error "$dir/log/$dead.log")"
		echo "$prog: the $dead server could not bind its port; retrying" \
		    >>"$dir/log/$dead.log"
	done
	die "no free ports after 5 tries (see $dir/log/*.log)"
}

stop() {
	[ -d "$dir" ] || return 0
	dir=$(cd "$dir" && pwd -P)
	[ -d "$dir/run" ] || return 0
	stop_daemons
}

mb() {
	local port
	[ -d "$dir" ] || die "$dir: no such directory"
	dir=$(cd "$dir" && pwd -P)
	port=$(cat "$dir/run/proxy.port" 2>/dev/null || true)
	if [ -z "$port" ] || [ -z "$(pids)" ]; then
		die "$dir: no server running (t/s3server.sh start $dir)"
	fi
	"$py" -I "$dir/etc/s3server.py" mb "http://127.0.0.1:$port" "$@"
}

[ $# -ge 2 ] || usage
[ -n "$2" ] || usage
cmd=$1
dir=$2
shift 2
case $cmd in
start) [ $# -eq 0 ] || usage; start ;;
stop) [ $# -eq 0 ] || usage; stop ;;
mb) [ $# -ge 1 ] || usage; mb "$@" ;;
*) usage ;;
esac
