# bash completion for hostnic                                -*- shell-script -*-
#
# Install: save as /usr/share/bash-completion/completions/hostnic (or
# /etc/bash_completion.d/hostnic), or for this session only:
#     source <(hostnic completion bash)
#
# Container and NIC names come from the installed hostnic itself, one call per
# TAB: `hostnic __complete containers|nics|attached-containers|attached-nics`.
# Needs nothing but bash >= 4 (bash-completion is not required).

# _hostnic_values <what> [<arg>]: dynamic values, one per line; nothing on any error.
_hostnic_values() {
    local -a sd=()
    [[ -n $_hostnic_state_dir ]] && sd=(--state-dir "$_hostnic_state_dir")
    command "$_hostnic_bin" "${sd[@]}" __complete "$@" 2>/dev/null </dev/null
}

# _hostnic_add <cur> <candidate...>: keep the candidates that start with <cur>.
# bash splits words at ':' and '=' (COMP_WORDBREAKS), and replaces only the
# part after the last one: strip that much from each reply.
_hostnic_add() {
    local cur=$1 trim='' breaks='' c
    shift
    [[ $COMP_WORDBREAKS == *:* ]] && breaks+=':'
    [[ $COMP_WORDBREAKS == *=* ]] && breaks+='='
    if [[ -n $breaks && $cur == *["$breaks"]* ]]; then
        trim=${cur%"${cur##*["$breaks"]}"}
    fi
    for c in "$@"; do
        [[ $c == "$cur"* ]] && COMPREPLY+=("${c#"$trim"}")
    done
}

# Same, candidates one per line on stdin.
_hostnic_add_lines() {
    local -a list=()
    local v
    while IFS= read -r v; do [[ -n $v ]] && list+=("$v"); done
    _hostnic_add "$1" "${list[@]}"
}

_hostnic() {
    COMPREPLY=()
    local IFS=$' \t\n'
    local -a words=()
    # Our own word split of the line up to the cursor, on blanks only, so that
    # docker:web or --state-dir=/x stay one word.
    if [[ -n ${COMP_LINE+set} ]]; then
        local line=${COMP_LINE:0:COMP_POINT}
        read -r -a words <<<"$line"
        [[ -z $line || $line == *[[:space:]] ]] && words+=('')
    else
        words=("${COMP_WORDS[@]:0:COMP_CWORD+1}")
    fi
    local n=${#words[@]}
    ((n >= 1)) || return 0
    local cur=${words[n-1]}

    # Seen by _hostnic_values (dynamic scope).
    local _hostnic_bin=${words[0]} _hostnic_state_dir=''
    [[ $_hostnic_bin == '~/'* ]] && _hostnic_bin=$HOME/${_hostnic_bin#'~/'}
    [[ $_hostnic_bin == */* ]] || _hostnic_bin=hostnic

    local -r commands='attach detach status apply recover nics doctor schema completion'
    local -r global_opts='--state-dir --verbose -v --dry-run -n --quiet -q --json --no-color --help --version'
    # Options that take a value in the next word.
    local -r value_opts=' --state-dir --name --mac --mtu --route --abandon --file -f --container --macvlan-mode '

    local cmd='' expect='' ddash=0 i w
    local -a pos=()
    for ((i = 1; i < n - 1; i++)); do
        w=${words[i]}
        if [[ -n $expect ]]; then
            [[ $expect == --state-dir ]] && _hostnic_state_dir=$w
            expect=''
            continue
        fi
        if ((!ddash)) && [[ $w == -* ]]; then
            case $w in
                --) ddash=1 ;;
                --state-dir=*) _hostnic_state_dir=${w#--state-dir=} ;;
                *) [[ $value_opts == *" $w "* ]] && expect=$w ;;
            esac
            continue
        fi
        if [[ -z $cmd ]]; then cmd=$w; else pos+=("$w"); fi
    done
    [[ $_hostnic_state_dir == '~/'* ]] && _hostnic_state_dir=$HOME/${_hostnic_state_dir#'~/'}

    # The value of an option.
    if [[ $expect == --state-dir ]]; then
        compopt -o filenames 2>/dev/null
        _hostnic_add_lines "$cur" < <(compgen -d -- "$cur")
        return 0
    fi
    if [[ $expect == --abandon ]]; then
        _hostnic_add_lines "$cur" < <(_hostnic_values unfinished-plans)
        return 0
    fi
    if [[ $expect == --file || $expect == -f ]]; then
        compopt -o filenames 2>/dev/null
        _hostnic_add_lines "$cur" < <(compgen -f -- "$cur")
        return 0
    fi
    if [[ $expect == --macvlan-mode ]]; then
        _hostnic_add "$cur" bridge private vepa
        return 0
    fi
    [[ -n $expect ]] && return 0 # --name, --mac, --mtu, --route, --container: free text
    if ((!ddash)) && [[ $cur == --state-dir=* ]]; then
        compopt -o filenames 2>/dev/null
        _hostnic_add_lines "$cur" < <(compgen -P --state-dir= -d -- "${cur#--state-dir=}")
        return 0
    fi

    # Options.
    if ((!ddash)) && [[ $cur == -* ]]; then
        local opts=$global_opts
        case $cmd in
            attach) opts+=' --name --mac --mtu --route --force --persist --macvlan --macvlan-mode' ;;
            detach) opts+=' --force --keep' ;;
            apply) opts+=' --file -f --prune --container' ;;
            doctor) opts+=' --fix --undo --force' ;;
            status) opts+=' --scan' ;;
            recover) opts+=' --abandon' ;;
        esac
        # shellcheck disable=SC2086 # a list of words
        _hostnic_add "$cur" $opts
        return 0
    fi

    # The command, then its arguments.
    if [[ -z $cmd ]]; then
        # shellcheck disable=SC2086
        _hostnic_add "$cur" $commands
        return 0
    fi
    case $cmd:${#pos[@]} in
        attach:0) _hostnic_add_lines "$cur" < <(_hostnic_values containers) ;;
        attach:1) _hostnic_add_lines "$cur" < <(_hostnic_values nics) ;;
        detach:0) _hostnic_add_lines "$cur" < <(_hostnic_values attached-containers) ;;
        detach:1) _hostnic_add_lines "$cur" < <(_hostnic_values attached-nics "${pos[0]}") ;;
        completion:0) _hostnic_add "$cur" bash zsh fish ;;
    esac
    return 0
}

complete -F _hostnic hostnic
