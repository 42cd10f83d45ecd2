/* The syslog parsers against a table of real-world messages: the RFC 5424 and
 * RFC 3164 examples, util-linux logger, glibc syslog(3) via /dev/log, rsyslog's
 * forwarding format, systemd, the kernel, Cisco IOS and ASA, Juniper, postfix,
 * Windows forwarders (NXLog, Snare); then malformed and hostile input. Each row
 * states every field expected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "inputs/syslog/syslog_parse.h"

#define BOM "\xEF\xBB\xBF"
#define NOW_2026_11_24 1795521600LL  /* 2026-11-24T12:00:00Z */

struct row {
	const char *in;
	enum syslog_mode mode;
	enum syslog_format fmt;
	int pri;
	const char *time;      /* UTC, "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ", or NULL: no time */
	int tz;                /* offset minutes (5424 / RFC 3339 only) */
	const char *host, *app, *procid, *msgid, *sd, *msg;
	int64_t now_s;         /* 0 = NOW_2026_11_24 */
};

#define A SYSLOG_MODE_AUTO
#define F5 SYSLOG_FMT_RFC5424
#define F3 SYSLOG_FMT_RFC3164
#define FN SYSLOG_FMT_NONE

static const struct row rows[] = {
	/* RFC 5424 section 6.5, examples 1-4 */
	{ "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - " BOM "'su root' failed for lonvick on /dev/pts/8",
	  A, F5, 34, "2003-10-11T22:14:15.003000000Z", 0, "mymachine.example.com", "su", "", "ID47", "",
	  "'su root' failed for lonvick on /dev/pts/8", 0 },
	{ "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
	  A, F5, 165, "2003-08-24T12:14:15.000003000Z", -420, "192.0.2.1", "myproc", "8710", "", "",
	  "%% It's time to make the do-nuts.", 0 },
	{ "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] " BOM "An application event log entry...",
	  A, F5, 165, "2003-10-11T22:14:15.003000000Z", 0, "mymachine.example.com", "evntslog", "", "ID47",
	  "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]", "An application event log entry...", 0 },
	{ "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"][examplePriority@32473 class=\"high\"]",
	  A, F5, 165, "2003-10-11T22:14:15.003000000Z", 0, "mymachine.example.com", "evntslog", "", "ID47",
	  "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"][examplePriority@32473 class=\"high\"]", "", 0 },
	/* util-linux logger --rfc5424 */
	{ "<13>1 2026-11-24T23:40:00.123456+00:00 myhost root - - [timeQuality tzKnown=\"1\" isSynced=\"0\"] hello",
	  A, F5, 13, "2026-11-24T23:40:00.123456000Z", 0, "myhost", "root", "", "", "[timeQuality tzKnown=\"1\" isSynced=\"0\"]", "hello", 0 },
	/* systemd with an offset */
	{ "<30>1 2026-11-24T10:00:00.000000+01:00 host systemd 1 - - Started Session 1 of user root.",
	  A, F5, 30, "2026-11-24T09:00:00.000000000Z", 60, "host", "systemd", "1", "", "", "Started Session 1 of user root.", 0 },
	/* all NILVALUE */
	{ "<0>1 - - - - - -", A, F5, 0, NULL, 0, "", "", "", "", "", "", 0 },
	/* escapes in SD values */
	{ "<14>1 2026-01-01T00:00:00Z h app 1 m [x@1 a=\"q\\\"uote\" b=\"back\\\\slash\" c=\"br\\]acket\"] msg",
	  A, F5, 14, "2026-01-01T00:00:00.000000000Z", 0, "h", "app", "1", "m",
	  "[x@1 a=\"q\\\"uote\" b=\"back\\\\slash\" c=\"br\\]acket\"]", "msg", 0 },
	/* leap second, lowercase t, nanoseconds */
	{ "<13>1 2016-12-31T23:59:60Z h a - - - leap", A, F5, 13, "2017-01-01T00:00:00.000000000Z", 0, "h", "a", "", "", "", "leap", 0 },
	{ "<13>1 2026-11-24t23:40:00.123456789Z h a - - - ns", A, F5, 13, "2026-11-24T23:40:00.123456789Z", 0, "h", "a", "", "", "", "ns", 0 },
	/* NXLog from Windows, RFC 5424 */
	{ "<14>1 2026-11-24T23:40:00.000000+00:00 WIN-SRV01 Microsoft-Windows-Security-Auditing 4 - [NXLOG@14506 EventReceivedTime=\"2026-11-24 23:40:00\" SourceModuleName=\"eventlog\"] An account was successfully logged on.",
	  A, F5, 14, "2026-11-24T23:40:00.000000000Z", 0, "WIN-SRV01", "Microsoft-Windows-Security-Auditing", "4", "",
	  "[NXLOG@14506 EventReceivedTime=\"2026-11-24 23:40:00\" SourceModuleName=\"eventlog\"]", "An account was successfully logged on.", 0 },
	/* 5424 forced on a 3164 message: kept whole */
	{ "<13>Nov 24 23:40:00 host app: m", SYSLOG_MODE_RFC5424, FN, 13, NULL, 0, "", "", "", "", "", "Nov 24 23:40:00 host app: m", 0 },
	/* a bad 5424 date in auto mode: read as 3164, nothing lost */
	{ "<13>1 2026-13-01T00:00:00Z h a - - - m", A, F3, 13, NULL, 0, "", "", "", "", "", "1 2026-13-01T00:00:00Z h a - - - m", 0 },
	/* bad SD in strict mode */
	{ "<13>1 2026-11-24T00:00:00Z h a - - [x a=\"unterminated] m", SYSLOG_MODE_RFC5424, FN, 13, NULL, 0, "", "", "", "", "",
	  "1 2026-11-24T00:00:00Z h a - - [x a=\"unterminated] m", 0 },

	/* RFC 3164 section 5.4 examples */
	{ "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
	  A, F3, 34, "2026-10-11T22:14:15.000000000Z", 0, "mymachine", "su", "", "", "", "'su root' failed for lonvick on /dev/pts/8", 0 },
	{ "<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!",
	  A, F3, 13, "2026-02-05T17:32:18.000000000Z", 0, "10.0.0.99", "", "", "", "", "Use the BFG!", 0 },
	{ "<165>Aug 24 05:34:00 CST 1987 mymachine myproc[10]: %% It's time to make the do-nuts.",
	  A, F3, 165, "2026-08-24T05:34:00.000000000Z", 0, "CST", "", "", "", "", "1987 mymachine myproc[10]: %% It's time to make the do-nuts.", 0 },
	{ "<0>1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!",
	  A, F3, 0, NULL, 0, "", "", "", "", "", "1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!", 0 },
	/* util-linux logger --rfc3164 */
	{ "<13>Nov 24 23:40:00 myhost root: hello world", A, F3, 13, "2026-11-24T23:40:00.000000000Z", 0, "myhost", "root", "", "", "", "hello world", 0 },
	/* glibc syslog(3) over /dev/log: no hostname */
	{ "<30>Nov 24 23:40:00 sshd[1234]: Accepted publickey for root", A, F3, 30, "2026-11-24T23:40:00.000000000Z", 0, "", "sshd", "1234", "", "", "Accepted publickey for root", 0 },
	{ "<86>Nov 24 23:40:00 host sudo: pam_unix(sudo:session): session opened", A, F3, 86, "2026-11-24T23:40:00.000000000Z", 0, "host", "sudo", "", "", "", "pam_unix(sudo:session): session opened", 0 },
	/* Cisco IOS: sequence number, '*' unsynchronised clock, millis */
	{ "<189>123: *Mar  1 00:00:00.000: %SYS-5-CONFIG_I: Configured from console by console",
	  A, F3, 189, "2026-03-01T00:00:00.000000000Z", 0, "", "", "", "", "", "%SYS-5-CONFIG_I: Configured from console by console", 0 },
	/* Cisco ASA with a year */
	{ "<166>Nov 24 2026 23:40:00: %ASA-6-302013: Built outbound TCP connection",
	  A, F3, 166, "2026-11-24T23:40:00.000000000Z", 0, "", "", "", "", "", "%ASA-6-302013: Built outbound TCP connection", 0 },
	/* Juniper */
	{ "<28>Nov 24 23:40:00 router1 mgd[3456]: UI_COMMIT: User 'root' requested 'commit' operation",
	  A, F3, 28, "2026-11-24T23:40:00.000000000Z", 0, "router1", "mgd", "3456", "", "", "UI_COMMIT: User 'root' requested 'commit' operation", 0 },
	/* rsyslog's forwarding format: RFC 3339 time in a 3164 frame */
	{ "<13>2026-11-24T23:40:00.123456+01:00 host tag: msg", A, F3, 13, "2026-11-24T22:40:00.123456000Z", 60, "host", "tag", "", "", "", "msg", 0 },
	/* a year in the timestamp */
	{ "<13>Oct 11 2023 22:14:15 host app: msg", A, F3, 13, "2023-10-11T22:14:15.000000000Z", 0, "host", "app", "", "", "", "msg", 0 },
	/* no time, no host */
	{ "<13>just a message", A, F3, 13, NULL, 0, "", "", "", "", "", "just a message", 0 },
	{ "<13>app: msg without time", A, F3, 13, NULL, 0, "", "app", "", "", "", "msg without time", 0 },
	/* Snare for Windows: tab separated */
	{ "<14>Nov 24 23:40:00 WIN-SRV01 MSWinEventLog\t1\tSecurity\t1234", A, F3, 14, "2026-11-24T23:40:00.000000000Z", 0,
	  "WIN-SRV01", "", "", "", "", "MSWinEventLog\t1\tSecurity\t1234", 0 },
	/* systemd, the kernel, postfix */
	{ "<30>Nov 24 23:40:00 host systemd[1]: Started Daily apt download activities.", A, F3, 30, "2026-11-24T23:40:00.000000000Z", 0,
	  "host", "systemd", "1", "", "", "Started Daily apt download activities.", 0 },
	{ "<6>Nov 24 23:40:00 host kernel: [12345.678901] eth0: link up", A, F3, 6, "2026-11-24T23:40:00.000000000Z", 0,
	  "host", "kernel", "", "", "", "[12345.678901] eth0: link up", 0 },
	{ "<22>Nov 24 23:40:00 host postfix/smtpd[999]: connect from unknown", A, F3, 22, "2026-11-24T23:40:00.000000000Z", 0,
	  "host", "postfix/smtpd", "999", "", "", "connect from unknown", 0 },
	{ "<13>Nov 24 23:40:00 host app[12] message", A, F3, 13, "2026-11-24T23:40:00.000000000Z", 0, "host", "app", "12", "", "", "message", 0 },
	/* more real senders: FortiGate (key=value, no header), Palo Alto CSV, HAProxy,
	 * Docker's syslog driver (rfc5424micro), VMware ESXi in both forms, MikroTik
	 * (no time, no host), macOS, Windows Event-to-syslog, Cisco NX-OS (year
	 * first: not a 3164 time, kept), Ubiquiti, ArcSight CEF (not a tag), cron,
	 * sshd, SD with several elements and a +05:30 offset, Cisco IOS with a host */
	{ "<189>date=2026-11-24 time=23:40:00 devname=\"FG100E\" logid=\"0000000013\" type=\"traffic\"", A, F3, 189, NULL, 0,
	  "", "", "", "", "", "date=2026-11-24 time=23:40:00 devname=\"FG100E\" logid=\"0000000013\" type=\"traffic\"", 0 },
	{ "<14>Nov 24 23:40:00 PA-VM 1,2026/11/24 23:40:00,007200001056,TRAFFIC,end,1", A, F3, 14, "2026-11-24T23:40:00.000000000Z", 0,
	  "PA-VM", "", "", "", "", "1,2026/11/24 23:40:00,007200001056,TRAFFIC,end,1", 0 },
	{ "<134>Nov 24 23:40:00 lb1 haproxy[2345]: 10.0.0.1:5432 [24/Nov/2026:23:40:00.123] fe be/srv1 200 512", A, F3, 134,
	  "2026-11-24T23:40:00.000000000Z", 0, "lb1", "haproxy", "2345", "", "", "10.0.0.1:5432 [24/Nov/2026:23:40:00.123] fe be/srv1 200 512", 0 },
	{ "<30>1 2026-11-24T23:40:00.123456Z dockerhost nginx 4321 nginx - 172.17.0.1 - - \"GET / HTTP/1.1\" 200", A, F5, 30,
	  "2026-11-24T23:40:00.123456000Z", 0, "dockerhost", "nginx", "4321", "nginx", "", "172.17.0.1 - - \"GET / HTTP/1.1\" 200", 0 },
	{ "<166>2026-11-24T23:40:00.123Z esxi01.example.com Hostd: info hostd[2099835] [Originator@6876 sub=Vimsvc] Task Completed", A, F3, 166,
	  "2026-11-24T23:40:00.123000000Z", 0, "esxi01.example.com", "Hostd", "", "", "", "info hostd[2099835] [Originator@6876 sub=Vimsvc] Task Completed", 0 },
	{ "<14>1 2026-11-24T23:40:00.123Z esxi01.example.com Hostd 2099835 - [Originator@6876 sub=\"Vimsvc\" opID=\"abc\"] Task Completed", A, F5, 14,
	  "2026-11-24T23:40:00.123000000Z", 0, "esxi01.example.com", "Hostd", "2099835", "", "[Originator@6876 sub=\"Vimsvc\" opID=\"abc\"]", "Task Completed", 0 },
	{ "<30>system,info,account user admin logged in from 10.0.0.5 via winbox", A, F3, 30, NULL, 0, "", "", "", "", "",
	  "system,info,account user admin logged in from 10.0.0.5 via winbox", 0 },
	{ "<5>Nov 24 23:40:00 MacBook-Pro com.apple.xpc.launchd[1] (com.apple.example): Service exited", A, F3, 5,
	  "2026-11-24T23:40:00.000000000Z", 0, "MacBook-Pro", "com.apple.xpc.launchd", "1", "", "", "(com.apple.example): Service exited", 0 },
	{ "<13>Nov 24 23:40:00 WIN-SRV01 Security-Auditing: 4624: AUDIT_SUCCESS An account was successfully logged on.", A, F3, 13,
	  "2026-11-24T23:40:00.000000000Z", 0, "WIN-SRV01", "Security-Auditing", "", "", "", "4624: AUDIT_SUCCESS An account was successfully logged on.", 0 },
	{ "<187>2026 Nov 24 23:40:00 UTC: %ETHPORT-5-IF_DOWN_LINK_FAILURE: Interface Ethernet1/1 is down", A, F3, 187, NULL, 0,
	  "", "", "", "", "", "2026 Nov 24 23:40:00 UTC: %ETHPORT-5-IF_DOWN_LINK_FAILURE: Interface Ethernet1/1 is down", 0 },
	{ "<11>Nov 24 23:40:00 U6-LR-Office,e063da000000,v6.5.28: hostapd: ath0: STA associated", A, F3, 11, "2026-11-24T23:40:00.000000000Z", 0,
	  "", "U6-LR-Office,e063da000000,v6.5.28", "", "", "", "hostapd: ath0: STA associated", 0 },
	{ "<14>Nov 24 23:40:00 host CEF:0|Security|threatmanager|1.0|100|worm stopped|10|src=10.0.0.1", A, F3, 14,
	  "2026-11-24T23:40:00.000000000Z", 0, "host", "", "", "", "", "CEF:0|Security|threatmanager|1.0|100|worm stopped|10|src=10.0.0.1", 0 },
	{ "<78>Nov 24 23:40:01 host CRON[4242]: (root) CMD (run-parts /etc/cron.hourly)", A, F3, 78, "2026-11-24T23:40:01.000000000Z", 0,
	  "host", "CRON", "4242", "", "", "(root) CMD (run-parts /etc/cron.hourly)", 0 },
	{ "<38>Nov 24 23:40:00 host sshd[1000]: Failed password for invalid user admin from 203.0.113.5 port 4242 ssh2", A, F3, 38,
	  "2026-11-24T23:40:00.000000000Z", 0, "host", "sshd", "1000", "", "", "Failed password for invalid user admin from 203.0.113.5 port 4242 ssh2", 0 },
	{ "<13>1 2026-11-24T23:40:00+05:30 h app - - [meta sequenceId=\"1\" sysUpTime=\"37\"][origin ip=\"192.0.2.1\"] m", A, F5, 13,
	  "2026-11-24T18:10:00.000000000Z", 330, "h", "app", "", "", "[meta sequenceId=\"1\" sysUpTime=\"37\"][origin ip=\"192.0.2.1\"]", "m", 0 },
	{ "<189>Nov 24 23:40:00 sw1 %LINK-3-UPDOWN: Interface Gi0/1, changed state to up", A, F3, 189, "2026-11-24T23:40:00.000000000Z", 0,
	  "sw1", "%LINK-3-UPDOWN", "", "", "", "Interface Gi0/1, changed state to up", 0 },
	/* framing leftovers and one-digit days */
	{ "<13>Nov 24 23:40:00 h a: m\r\n", A, F3, 13, "2026-11-24T23:40:00.000000000Z", 0, "h", "a", "", "", "", "m", 0 },
	{ "<13>Nov 4 23:40:00 h a: m", A, F3, 13, "2026-11-04T23:40:00.000000000Z", 0, "h", "a", "", "", "", "m", 0 },
	/* an impossible date is no date */
	{ "<13>Feb 30 23:40:00 h a: m", A, F3, 13, NULL, 0, "", "", "", "", "", "Feb 30 23:40:00 h a: m", 0 },
	/* New Year: a December line read in January is last year's... */
	{ "<13>Dec 31 23:59:59 h a: m", A, F3, 13, "2026-12-31T23:59:59.000000000Z", 0, "h", "a", "", "", "", "m", 1798761630LL /* 2027-01-01T00:00:30Z */ },
	/* ...and a sender a few seconds ahead at midnight is in the new year */
	{ "<13>Jan  1 00:00:10 h a: m", A, F3, 13, "2027-01-01T00:00:10.000000000Z", 0, "h", "a", "", "", "", "m", 1798761590LL /* 2026-12-31T23:59:50Z */ },
	/* forced 3164 on a 5424 message: read as 3164 (no time) */
	{ "<13>1 2026-11-24T23:40:00Z h a - - - m", SYSLOG_MODE_RFC3164, F3, 13, NULL, 0, "", "", "", "", "", "1 2026-11-24T23:40:00Z h a - - - m", 0 },

	/* malformed: kept whole, flagged */
	{ "hello world", A, FN, -1, NULL, 0, "", "", "", "", "", "hello world", 0 },
	{ "<999>hello", A, FN, -1, NULL, 0, "", "", "", "", "", "<999>hello", 0 },
	{ "<192>hello", A, FN, -1, NULL, 0, "", "", "", "", "", "<192>hello", 0 },
	{ "<013>x", A, FN, -1, NULL, 0, "", "", "", "", "", "<013>x", 0 },
	{ "<13 hello", A, FN, -1, NULL, 0, "", "", "", "", "", "<13 hello", 0 },
	{ "<>", A, FN, -1, NULL, 0, "", "", "", "", "", "<>", 0 },
	{ "", A, FN, -1, NULL, 0, "", "", "", "", "", "", 0 },
	{ "<13>", A, F3, 13, NULL, 0, "", "", "", "", "", "", 0 },
	{ "<13>1 ", A, F3, 13, NULL, 0, "", "", "", "", "", "1 ", 0 },
	{ "<13>Nov 24 23:40:00xhost", A, FN, 13, NULL, 0, "", "", "", "", "", "Nov 24 23:40:00xhost", 0 },
};

static void fmt_time(int64_t ns, char *out, size_t n)
{
	time_t s = (time_t)(ns / 1000000000);
	struct tm tm;
	gmtime_r(&s, &tm);
	snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long long)(ns % 1000000000));
}

static void check_str(size_t row, const char *field, struct syslog_str got, const char *want)
{
	if (got.len != strlen(want) || (got.len && memcmp(got.p, want, got.len) != 0)) {
		print_error("row %zu: %s: got '%.*s', want '%s'\n", row, field, (int)got.len,
			    got.p ? got.p : "", want);
		fail();
	}
}

static void test_table(void **state)
{
	(void)state;
	assert_true(sizeof(rows) / sizeof(rows[0]) >= 60);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct syslog_msg m;
		int64_t now = (r->now_s ? r->now_s : NOW_2026_11_24) * 1000000000LL;
		enum syslog_format f = syslog_parse(r->in, strlen(r->in), r->mode, now, &m);
		if (f != r->fmt || m.format != r->fmt) {
			print_error("row %zu: format %d, want %d (error: %s)\n", i, f, r->fmt, m.error ? m.error : "-");
			fail();
		}
		if (m.pri != r->pri) {
			print_error("row %zu: pri %d, want %d\n", i, m.pri, r->pri);
			fail();
		}
		assert_int_equal(m.facility, r->pri < 0 ? -1 : r->pri / 8);
		assert_int_equal(m.severity, r->pri < 0 ? -1 : r->pri % 8);
		if (r->time) {
			char got[64];
			if (!m.has_time) {
				print_error("row %zu: no time, want %s\n", i, r->time);
				fail();
			}
			fmt_time(m.time_ns, got, sizeof(got));
			if (strcmp(got, r->time) != 0) {
				print_error("row %zu: time %s, want %s\n", i, got, r->time);
				fail();
			}
			assert_int_equal(m.tz_offset_min, r->tz);
		} else if (m.has_time) {
			print_error("row %zu: has a time, want none\n", i);
			fail();
		}
		check_str(i, "hostname", m.hostname, r->host);
		check_str(i, "appname", m.appname, r->app);
		check_str(i, "procid", m.procid, r->procid);
		check_str(i, "msgid", m.msgid, r->msgid);
		check_str(i, "structured_data", m.structured_data, r->sd);
		check_str(i, "msg", m.msg, r->msg);
		assert_true(r->fmt != FN || m.error != NULL);
	}
}

struct sd_collect { char buf[1024]; size_t n; };

static void on_elem(void *arg, struct syslog_str id)
{
	struct sd_collect *c = arg;
	c->n += (size_t)snprintf(c->buf + c->n, sizeof(c->buf) - c->n, "<%.*s>", (int)id.len, id.p);
}

static void on_param(void *arg, struct syslog_str name, struct syslog_str value)
{
	struct sd_collect *c = arg;
	char v[256];
	size_t n = syslog_sd_unescape(value, v);
	c->n += (size_t)snprintf(c->buf + c->n, sizeof(c->buf) - c->n, "%.*s=%.*s;", (int)name.len, name.p, (int)n, v);
}

static void test_structured_data(void **state)
{
	(void)state;
	struct sd_collect c = { .n = 0 };
	struct syslog_sd_visitor v = { on_elem, on_param, &c };
	const char *sd = "[x@1 a=\"q\\\"uote\" b=\"back\\\\slash\" c=\"br\\]acket\"][y@2]";
	assert_int_equal(syslog_sd_walk((struct syslog_str){ sd, strlen(sd) }, &v), 0);
	assert_string_equal(c.buf, "<x@1>a=q\"uote;b=back\\slash;c=br]acket;<y@2>");
	/* malformed: nothing visited */
	c.n = 0;
	c.buf[0] = 0;
	const char *bad = "[x@1 a=\"1\"][y@2 b=";
	assert_int_equal(syslog_sd_walk((struct syslog_str){ bad, strlen(bad) }, &v), -1);
	assert_int_equal(c.n, 0);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(syslog_facility_name(0), "kern");
	assert_string_equal(syslog_facility_name(4), "auth");
	assert_string_equal(syslog_facility_name(23), "local7");
	assert_string_equal(syslog_facility_name(24), "unknown");
	assert_string_equal(syslog_severity_name(3), "Error");
	assert_string_equal(syslog_severity_name(6), "Informational");
	assert_string_equal(syslog_severity_name(-1), "unknown");
}

/* Hostile input: NUL bytes, a 1 MiB message, every prefix of valid messages
 * (half frames): no crash, no read past the end (ASan watches), message kept. */
static void test_hostile(void **state)
{
	(void)state;
	struct syslog_msg m;
	const char nul[] = "<13>Nov 24 23:40:00 h a: x\0y\0z";
	assert_int_equal(syslog_parse(nul, sizeof(nul) - 1, A, 0, &m), F3);
	assert_int_equal(m.msg.len, 5);

	size_t big = 1 << 20;
	char *p = malloc(big);
	assert_non_null(p);
	memcpy(p, "<13>1 - h a - - - ", 18);
	memset(p + 18, 'x', big - 18);
	assert_int_equal(syslog_parse(p, big, A, 0, &m), F5);
	assert_int_equal(m.msg.len, big - 18);
	memset(p, '[', big);
	assert_int_equal(syslog_parse(p, big, A, 0, &m), FN);
	assert_int_equal(m.msg.len, big);
	free(p);

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t n = strlen(rows[i].in);
		for (size_t k = 0; k <= n; k++) {
			char *c = malloc(k ? k : 1);  /* exact size: ASan catches overreads */
			memcpy(c, rows[i].in, k);
			syslog_parse(c, k, rows[i].mode, NOW_2026_11_24 * 1000000000LL, &m);
			assert_true(m.msg.len <= k);
			free(c);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_structured_data),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_hostile),
	};
	return cmocka_run_group_tests_name("syslog_parse", tests, NULL, NULL);
}
