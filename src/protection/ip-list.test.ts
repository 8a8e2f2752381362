import { describe, expect, it } from 'vitest';
import { counterIpKey } from './ip-list.js';

describe('counterIpKey: what attempts are counted by', () => {
  it('counts an IPv4 address by itself, IPv4-mapped IPv6 included', () => {
    expect(counterIpKey('192.0.2.7')).toBe('192.0.2.7');
    expect(counterIpKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
  });

  it('counts IPv6 addresses by their /64, however they are written', () => {
    const same = ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::9', '2001:DB8:0001:0002:ffff::1', '2001:db8:1:2::1.2.3.4'];
    expect(new Set(same.map(counterIpKey))).toEqual(new Set(['2001:db8:1:2::/64']));
    expect(counterIpKey('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(counterIpKey('::1')).toBe('0:0:0:0::/64');
    expect(counterIpKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
  });
});
