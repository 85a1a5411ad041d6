// SPDX-License-Identifier: Apache-2.0
// The standard PAC helper functions (Netscape's proxy auto-config, as browsers implement them), for PacEngine.
// dnsResolve and myIpAddress call into dfproxy (__dfproxy); everything else is plain JavaScript.
namespace dfproxy::pac {
extern const char kPacHelpers[];
const char kPacHelpers[] = R"JS(
var __pacDays = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
var __pacMonths = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];

function isPlainHostName(host) { return String(host).indexOf('.') < 0; }
function dnsDomainIs(host, domain) {
    host = String(host); domain = String(domain);
    return host.length >= domain.length && host.substring(host.length - domain.length) === domain;
}
function localHostOrDomainIs(host, hostdom) {
    host = String(host); hostdom = String(hostdom);
    return host === hostdom || hostdom.lastIndexOf(host + '.', 0) === 0;
}
function dnsDomainLevels(host) { return String(host).split('.').length - 1; }
function shExpMatch(str, shexp) {
    var re = String(shexp).replace(/[.+^${}()|[\]\\\/]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
    return new RegExp('^' + re + '$').test(String(str));
}
function dnsResolve(host) {
    var r = __dfproxy.dnsResolve(String(host));
    return r === '' ? null : r;
}
function isResolvable(host) { return dnsResolve(host) !== null; }
function myIpAddress() { return __dfproxy.myIpAddress(); }
function __pacIp(ip) {
    var p = String(ip).split('.');
    if (p.length !== 4)
        return null;
    var n = 0;
    for (var i = 0; i < 4; i++) {
        if (!/^[0-9]{1,3}$/.test(p[i]))
            return null;
        var v = parseInt(p[i], 10);
        if (v > 255)
            return null;
        n = n * 256 + v;
    }
    return n;
}
function isInNet(ipaddr, pattern, maskstr) {
    var ip = __pacIp(ipaddr);
    if (ip === null) {
        var r = dnsResolve(ipaddr);
        if (r === null)
            return false;
        ip = __pacIp(r);
        if (ip === null)
            return false;
    }
    var pat = __pacIp(pattern), mask = __pacIp(maskstr);
    if (pat === null || mask === null)
        return false;
    return ((ip & mask) >>> 0) === ((pat & mask) >>> 0);
}
function __pacArgs(args) {
    var a = Array.prototype.slice.call(args);
    var gmt = a.length > 0 && String(a[a.length - 1]).toUpperCase() === 'GMT';
    if (gmt)
        a.pop();
    return { args: a, gmt: gmt, now: new Date() };
}
function weekdayRange() {
    var c = __pacArgs(arguments);
    var today = c.gmt ? c.now.getUTCDay() : c.now.getDay();
    var a = __pacDays.indexOf(String(c.args[0]).toUpperCase());
    if (a < 0)
        return false;
    if (c.args.length < 2)
        return today === a;
    var b = __pacDays.indexOf(String(c.args[1]).toUpperCase());
    if (b < 0)
        return false;
    return a <= b ? (today >= a && today <= b) : (today >= a || today <= b);
}
function dateRange() {
    var c = __pacArgs(arguments);
    var n = c.args.length;
    var Y = c.gmt ? c.now.getUTCFullYear() : c.now.getFullYear();
    var M = c.gmt ? c.now.getUTCMonth() : c.now.getMonth();
    var D = c.gmt ? c.now.getUTCDate() : c.now.getDate();
    function kind(v) {
        if (__pacMonths.indexOf(String(v).toUpperCase()) >= 0)
            return 'm';
        return Number(v) > 31 ? 'y' : 'd';
    }
    function tuple(part) {
        var t = [null, null, null];
        for (var i = 0; i < part.length; i++) {
            var k = kind(part[i]);
            if (k === 'y') t[0] = Number(part[i]);
            else if (k === 'm') t[1] = __pacMonths.indexOf(String(part[i]).toUpperCase());
            else t[2] = Number(part[i]);
        }
        return t;
    }
    if (n === 1) {
        var t = tuple(c.args);
        return t[0] !== null ? Y === t[0] : t[1] !== null ? M === t[1] : D === t[2];
    }
    if (n === 0 || n % 2 !== 0 || n > 6)
        return false;
    var lo = tuple(c.args.slice(0, n / 2)), hi = tuple(c.args.slice(n / 2));
    function key(t) {
        return (lo[0] !== null ? t[0] : 0) * 10000 + (lo[1] !== null ? t[1] : 0) * 100 + (lo[2] !== null ? t[2] : 0);
    }
    var cur = key([Y, M, D]), a = key(lo), b = key(hi);
    return a <= b ? (cur >= a && cur <= b) : (cur >= a || cur <= b);
}
function timeRange() {
    var c = __pacArgs(arguments);
    var n = c.args.length;
    var h = c.gmt ? c.now.getUTCHours() : c.now.getHours();
    var m = c.gmt ? c.now.getUTCMinutes() : c.now.getMinutes();
    var s = c.gmt ? c.now.getUTCSeconds() : c.now.getSeconds();
    var x = c.args.map(Number);
    if (n === 1)
        return h === x[0];
    if (n === 2)
        return x[0] <= h && h < x[1];
    var cur = h * 3600 + m * 60 + s;
    if (n === 4)
        return x[0] * 3600 + x[1] * 60 <= cur && cur <= x[2] * 3600 + x[3] * 60 + 59;
    if (n === 6)
        return x[0] * 3600 + x[1] * 60 + x[2] <= cur && cur <= x[3] * 3600 + x[4] * 60 + x[5];
    return false;
}
)JS";
} // namespace dfproxy::pac
