# perl workload of real_bench.py: hashes of strings filled, sorted, joined,
# rewritten with s///g, split, counted and half deleted.  $ARGV[0]: keys per
# round.  Output: an MD5 of everything computed, then "maps <file>" for every
# mapped file (the preload check) and the VmHWM line of /proc/self/status (the
# peak RSS).
use strict;
use warnings;
use Digest::MD5;

my $n = $ARGV[0];
my $seed = 1;
sub rnd { $seed = ($seed * 1103515245 + 12345) % 2147483648; return $seed % $_[0]; }
my $md5 = Digest::MD5->new;
for my $round (1 .. 4) {
    my (%h, @keys);
    for my $i (1 .. $n) {
        my $k = "k" . rnd(1000000) . "-$i";
        $h{$k} = ("v" x rnd(60)) . $i;
        push @keys, $k;
    }
    my $s = join(",", map { $h{$_} } sort keys %h);
    (my $u = $s) =~ s/(v+)(\d)/$2$1/g;
    my @w = split /,/, $u;
    my %cnt;
    $cnt{substr($_, 0, 2)}++ for @w;
    delete $h{$_} for @keys[0 .. $#keys / 2];
    $md5->add($s, length($u), scalar(@w), join(",", map { "$_=$cnt{$_}" } sort keys %cnt), scalar(keys %h));
}
print "perl $n ", $md5->hexdigest, "\n";
open(my $maps, "<", "/proc/self/maps") or die "maps: $!";
while (<$maps>) { print "maps $1\n" if m{(/.*)$}; }
open(my $status, "<", "/proc/self/status") or die "status: $!";
while (<$status>) { print if /^VmHWM:/; }
