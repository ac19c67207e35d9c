# Request Tracker initialdata for a casebridge test or sandbox instance,
# loaded by scripts/rt.sh start with rt-setup-database-5 --action insert.
#
# It adds the custom fields the connector uses on queue General (the sync
# flag and the Google case, and those that show Google's case state and
# take escalation requests), the
# connector's sync user with only the rights it needs, and a group of human
# agents who can do what a support agent does. Passwords come from the
# environment rt.sh sets; the sync user's auth token and root's new password
# are written to files in the instance directory.
use strict;
use warnings;

my $dir = $ENV{CB_RT_DIR} or die "CB_RT_DIR is not set\n";
my %password = (
    sync  => $ENV{CB_RT_SYNC_PASSWORD}  || die("CB_RT_SYNC_PASSWORD is not set\n"),
    root  => $ENV{CB_RT_ROOT_PASSWORD}  || die("CB_RT_ROOT_PASSWORD is not set\n"),
    agent => $ENV{CB_RT_AGENT_PASSWORD} || die("CB_RT_AGENT_PASSWORD is not set\n"),
);

our @CustomFields = (
    {
        Name        => 'GCP Case',
        Description => 'The linked Google Cloud support case (projects/.../cases/...)',
        Type        => 'FreeformSingle',
        LookupType  => 'RT::Queue-RT::Ticket',
        ApplyTo     => 'General',
    },
    {
        Name        => 'GCP Sync',
        Description => 'Sync this ticket with Google Cloud Support',
        Type        => 'SelectSingle',
        RenderType  => 'Dropdown',
        LookupType  => 'RT::Queue-RT::Ticket',
        ApplyTo     => 'General',
        Values      => [
            { Name => 'yes', SortOrder => 1 },
            { Name => 'no',  SortOrder => 2 },
        ],
    },
    {
        Name        => 'Google Case State',
        Description => 'The state of the linked Google Cloud support case, written by casebridge',
        Type        => 'FreeformSingle',
        LookupType  => 'RT::Queue-RT::Ticket',
        ApplyTo     => 'General',
    },
    {
        Name        => 'Escalate to Google',
        Description => 'Set to yes to have casebridge escalate the linked Google case',
        Type        => 'SelectSingle',
        RenderType  => 'Dropdown',
        LookupType  => 'RT::Queue-RT::Ticket',
        ApplyTo     => 'General',
        Values      => [ { Name => 'yes', SortOrder => 1 } ],
    },
    {
        Name        => 'Google Escalation Reason',
        Description => 'Why the Google case is to be escalated',
        Type        => 'SelectSingle',
        RenderType  => 'Dropdown',
        LookupType  => 'RT::Queue-RT::Ticket',
        ApplyTo     => 'General',
        Values      => [
            { Name => 'Resolution time',     SortOrder => 1 },
            { Name => 'Technical expertise', SortOrder => 2 },
            { Name => 'Business impact',     SortOrder => 3 },
        ],
    },
    {
        Name        => 'Google Escalation Justification',
        Description => 'What Google is told about why the case is escalated',
        Type        => 'TextSingle',
        LookupType  => 'RT::Queue-RT::Ticket',
        ApplyTo     => 'General',
    },
);

our @Users = (
    {
        Name         => 'gcp-sync',
        RealName     => 'Google Cloud Sync',
        EmailAddress => 'gcp-sync@example.test',
        Password     => $password{sync},
        Privileged   => 1,
    },
    map {
        {
            Name         => $_->[0],
            RealName     => $_->[1],
            EmailAddress => "$_->[0]\@example.test",
            Password     => $password{agent},
            Privileged   => 1,
        }
    } (
        [ 'agent-alice', 'Alice Agent' ],
        [ 'agent-bob',   'Bob Agent' ],
    ),
);

our @Groups = (
    {
        Name        => 'Human Agents',
        Description => 'Support agents of the test helpdesk',
        Members     => { Users => [ 'agent-alice', 'agent-bob' ] },
    },
);

# What the connector does on queue General: read tickets and their history
# including internal comments (ShowTicket, ShowTicketComments), create them,
# reply and comment, change priority and status (ModifyTicket), and read and
# write the custom fields (SeeCustomField, ModifyCustomField). SeeQueue
# lets it name the queue on create.
my @sync_rights = qw(SeeQueue ShowTicket CreateTicket ReplyToTicket CommentOnTicket
    ModifyTicket ShowTicketComments SeeCustomField ModifyCustomField);
my @agent_rights = (@sync_rights, qw(OwnTicket TakeTicket));

our @ACL = (
    { UserId => 'gcp-sync', Queue => 'General', Right => \@sync_rights },
    map {
        { GroupDomain => 'UserDefined', GroupId => 'Human Agents', Queue => 'General', Right => $_ }
    } @agent_rights,
);

# The scrip that tells casebridge a ticket changed, so that it syncs at
# once instead of at the next poll: on every transaction of a ticket in
# queue General it POSTs {"ticket","txn","type","creator"} to the site
# config's $CasebridgeWebhookURL, signed with $CasebridgeWebhookSecret
# (X-Casebridge-Timestamp: unix seconds; X-Casebridge-Signature:
# sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>). It sends
# nothing when the URL is empty, for transactions of the sync user
# ($CasebridgeSyncUser, default gcp-sync: casebridge's own writes) and for
# RT's records of outgoing mail. It runs inside the user's request, so it
# gives up after 2 seconds and swallows every error: a change in RT never
# waits longer or fails because of it (the poller catches up).
# docs/crms/request-tracker.md shows it for pasting into RT's admin UI.
my $webhook_commit = <<'CODE';
my $sent = eval {
    my $url    = RT->Config->Get('CasebridgeWebhookURL')    // '';
    my $secret = RT->Config->Get('CasebridgeWebhookSecret') // '';
    my $sync   = RT->Config->Get('CasebridgeSyncUser')      || 'gcp-sync';
    return 1 if $url eq '';
    my $txn  = $self->TransactionObj;
    my $type = $txn->Type // '';
    return 1 if $type eq 'EmailRecord' || $type eq 'CommentEmailRecord';
    my $creator = $txn->CreatorObj->Name // '';
    return 1 if $creator eq $sync;
    if ( $secret eq '' ) {
        RT->Logger->warning('casebridge webhook: $CasebridgeWebhookSecret is empty, nothing sent');
        return 1;
    }
    require JSON;
    require Digest::SHA;
    require HTTP::Tiny;
    my $body = JSON->new->utf8->canonical->encode( {
        ticket  => 0 + $self->TicketObj->id,
        txn     => 0 + $txn->id,
        type    => $type,
        creator => $creator,
    } );
    my $ts  = time();
    my $sig = 'sha256=' . Digest::SHA::hmac_sha256_hex( "$ts.$body", $secret );
    my $res = HTTP::Tiny->new(
        timeout      => 2,
        max_redirect => 0,
        verify_SSL   => 1,
        agent        => 'casebridge-rt-scrip/1',
    )->post( $url, {
        headers => {
            'Content-Type'           => 'application/json',
            'X-Casebridge-Timestamp' => $ts,
            'X-Casebridge-Signature' => $sig,
        },
        content => $body,
    } );
    RT->Logger->warning( sprintf 'casebridge webhook: ticket %d transaction %d: HTTP %s',
        $self->TicketObj->id, $txn->id, $res->{status} )
        unless $res->{success};
    1;
};
unless ($sent) {
    my $err = ( split /\n/, ( $@ // 'unknown error' ) )[0] // '';
    RT->Logger->warning( 'casebridge webhook: ' . substr( $err, 0, 200 ) );
}
return 1;
CODE

our @Scrips = (
    {
        Description       => 'casebridge: tell casebridge a ticket changed',
        Queue             => 'General',
        ScripCondition    => 'On Transaction',
        ScripAction       => 'User Defined',
        Template          => 'Blank',
        Stage             => 'TransactionCreate',
        CustomPrepareCode => 'return 1;',
        CustomCommitCode  => $webhook_commit,
    },
);

our @Final = (
    sub {
        my $root = RT::User->new( RT->SystemUser );
        $root->Load('root');
        my ( $ok, $msg ) = $root->SetPassword( $password{root} );
        die "setting root's password: $msg\n" unless $ok;

        my $sync = RT::User->new( RT->SystemUser );
        $sync->Load('gcp-sync');
        die "the sync user was not created\n" unless $sync->id;
        my $token = RT::AuthToken->new( RT->SystemUser );
        my ( $id, $tmsg, $authstring ) = $token->Create( Owner => $sync->id, Description => 'casebridge' );
        die "creating the sync user's token: $tmsg\n" unless $id;
        open my $fh, '>', "$dir/sync-token" or die "writing $dir/sync-token: $!\n";
        print $fh $authstring, "\n";
        close $fh;
    },
);

1;
