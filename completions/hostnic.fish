# fish completion for hostnic
#
# Install: save as ~/.config/fish/completions/hostnic.fish (or in a directory
# of $fish_complete_path), e.g. `hostnic completion fish > ~/.config/fish/completions/hostnic.fish`.
#
# Container and NIC names come from the installed hostnic itself, one call per
# TAB: `hostnic __complete containers|nics|attached-containers|attached-nics`.

# The words before the cursor that are not options nor option values: the
# command, then its arguments (the program name left out).
function __hostnic_args
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l expect 0
    set -l ddash 0
    for t in $tokens
        if test $expect = 1
            set expect 0
            continue
        end
        if test $ddash = 0
            switch $t
                case --
                    set ddash 1
                    continue
                case --state-dir --name --mac --mtu --route --macvlan-mode
                    set expect 1
                    continue
                case '-*'
                    continue
            end
        end
        echo $t
    end
end

# __hostnic_at <command> <n>: the cursor is at argument <n> (from 0) of <command>.
function __hostnic_at
    set -l args (__hostnic_args)
    test (count $args) -ge 1; and test "$args[1]" = $argv[1]; and test (math (count $args) - 1) -eq $argv[2]
end

function __hostnic_no_command
    test (count (__hostnic_args)) -eq 0
end

function __hostnic_command_is
    set -l args (__hostnic_args)
    test (count $args) -ge 1; and contains -- $args[1] $argv
end

# __hostnic_values <what> [<arg>]: dynamic values, one per line; nothing on any error.
function __hostnic_values
    set -l tokens (commandline -opc)
    set -l bin hostnic
    string match -q '*/*' -- $tokens[1]; and set bin $tokens[1]
    set -l sd
    set -l n (count $tokens)
    for i in (seq 2 $n)
        switch $tokens[$i]
            case '--state-dir=*'
                set sd --state-dir (string replace -- --state-dir= '' $tokens[$i])
            case --state-dir
                if test $i -lt $n
                    set sd --state-dir $tokens[(math $i + 1)]
                end
        end
    end
    command $bin $sd __complete $argv 2>/dev/null </dev/null
end

function __hostnic_detach_nics
    set -l args (__hostnic_args)
    __hostnic_values attached-nics $args[2]
end

complete -c hostnic -f

# Global options.
complete -c hostnic -l state-dir -x -a '(__fish_complete_directories)' -d 'State directory (env HOSTNIC_STATE_DIR)'
complete -c hostnic -s v -l verbose -d 'Print every command with its duration'
complete -c hostnic -s n -l dry-run -d 'Print the plan and its exact commands; change nothing'
complete -c hostnic -s q -l quiet -d 'Print errors only'
complete -c hostnic -l json -d 'One JSON document on stdout'
complete -c hostnic -l no-color -d 'No colour'
complete -c hostnic -l help -d 'Show help'
complete -c hostnic -l version -d 'Show the version'

# Commands.
complete -c hostnic -n __hostnic_no_command -a attach -d 'Move a host NIC into a container and configure it'
complete -c hostnic -n __hostnic_no_command -a detach -d 'Give NICs back to the host, as they were'
complete -c hostnic -n __hostnic_no_command -a status -d 'What is attached where, verified against the kernel'
complete -c hostnic -n __hostnic_no_command -a apply -d 'Make the machine as the desired-state file says'
complete -c hostnic -n __hostnic_no_command -a schema -d 'Print the JSON Schema of the desired-state file'
complete -c hostnic -n __hostnic_no_command -a recover -d 'Finish every plan a dead hostnic left half-done'
complete -c hostnic -n __hostnic_no_command -a nics -d "Inspect the host's NICs"
complete -c hostnic -n __hostnic_no_command -a doctor -d 'Check the host (ARP flux, network managers); --fix, --undo'
complete -c hostnic -n __hostnic_no_command -a completion -d 'Print the completion script of a shell'

# attach <container> <nic> [<ip/cidr[@gw]> ...]
complete -c hostnic -n '__hostnic_at attach 0' -a '(__hostnic_values containers)' -d 'Running container'
complete -c hostnic -n '__hostnic_at attach 1' -a '(__hostnic_values nics)' -d 'Host NIC'
complete -c hostnic -n '__hostnic_command_is attach' -l name -x -d 'Interface name in the container'
complete -c hostnic -n '__hostnic_command_is attach' -l mac -x -d 'Set this MAC'
complete -c hostnic -n '__hostnic_command_is attach' -l mtu -x -d 'Set this MTU'
complete -c hostnic -n '__hostnic_command_is attach' -l route -x -d 'Extra route CIDR[@VIA] through the NIC'
complete -c hostnic -n '__hostnic_command_is attach' -l force -d "Allow moving the NIC of the host's default route"
complete -c hostnic -n '__hostnic_command_is attach' -l persist -d 'Also write the entry in the desired-state file'
complete -c hostnic -n '__hostnic_command_is attach' -l macvlan -d 'Give the container a macvlan child of the NIC instead'
complete -c hostnic -n '__hostnic_command_is attach' -l macvlan-mode -x -a 'bridge private vepa' -d 'With --macvlan: the mode'
complete -c hostnic -n '__hostnic_command_is detach' -l keep -d 'Keep its entry in the desired-state file'

# apply [-f FILE] [--prune] [--container REF]...
complete -c hostnic -n '__hostnic_command_is apply' -s f -l file -r -F -d 'The desired-state file'
complete -c hostnic -n '__hostnic_command_is apply' -l prune -d 'Also detach what no entry wants'
complete -c hostnic -n '__hostnic_command_is apply' -l container -x -d 'Only the entries of this container'

# detach <container> [<nic>] [--force]
complete -c hostnic -n '__hostnic_at detach 0' -a '(__hostnic_values attached-containers)' -d 'Container with an attached NIC'
complete -c hostnic -n '__hostnic_at detach 1' -a '(__hostnic_detach_nics)' -d 'Attached NIC'
complete -c hostnic -n '__hostnic_command_is detach' -l force -d 'Restore what the record says where the tag on the NIC disagrees'

# status [--scan]
complete -c hostnic -n '__hostnic_command_is status' -l scan -d 'Also look for tagged NICs in every namespace'
# recover [--abandon <plan>]
complete -c hostnic -n '__hostnic_command_is recover' -l abandon -x -a '(__hostnic_values unfinished-plans)' -d 'Drop this unfinished plan (settled by hand)'
# doctor [--fix | --undo [--force]]
complete -c hostnic -n '__hostnic_command_is doctor' -l fix -d 'Apply the fixes'
complete -c hostnic -n '__hostnic_command_is doctor' -l undo -d 'Undo the fixes hostnic made'
complete -c hostnic -n '__hostnic_command_is doctor' -l force -d 'With --undo: also put back what was changed by hand'

# completion bash|zsh|fish
complete -c hostnic -n '__hostnic_at completion 0' -a 'bash zsh fish' -d Shell
