import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';

import { getMembers, inviteMember, queryKeys, removeMember, updateMember } from '../../api/endpoints';
import type { Role } from '../../api/types';
import { ErrorState, Loading } from '../../components/StateViews';

const ROLES: Role[] = ['owner', 'farmer', 'vet', 'viewer'];

export function Members({ farmId, editable, myUserId }: { farmId: string; editable: boolean; myUserId: string }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const members = useQuery({ queryKey: queryKeys.members(farmId), queryFn: ({ signal }) => getMembers(farmId, signal) });
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('farmer');
  const [error, setError] = useState<string | null>(null);
  const refresh = () => client.invalidateQueries({ queryKey: queryKeys.members(farmId) });
  const onError = (e: Error) => setError(e.message);
  const invite = useMutation({
    mutationFn: () => inviteMember(farmId, email, role),
    onSuccess: () => {
      setEmail('');
      setError(null);
      return refresh();
    },
    onError,
  });
  const change = useMutation({
    mutationFn: ({ userId, newRole }: { userId: string; newRole: Role }) => updateMember(farmId, userId, newRole),
    onSuccess: refresh,
    onError,
  });
  const remove = useMutation({ mutationFn: (userId: string) => removeMember(farmId, userId), onSuccess: refresh, onError });

  const submit = (event: FormEvent): void => {
    event.preventDefault();
    invite.mutate();
  };

  return (
    <section className="panel" aria-labelledby="members-heading">
      <h2 id="members-heading">{t('settings.membersHeading')}</h2>
      {members.isPending ? (
        <Loading />
      ) : members.isError ? (
        <ErrorState error={members.error} onRetry={() => void members.refetch()} />
      ) : (
        <ul className="plain-list">
          {members.data.map((member) => (
            <li key={member.user_id} className="list-row">
              <div>
                <strong>{member.email ?? member.user_id}</strong>
                {member.user_id === myUserId && <span className="muted"> ({t('settings.you')})</span>}
              </div>
              {editable ? (
                <div className="button-row">
                  <label className="select-inline">
                    <span className="visually-hidden">{t('settings.roleOf', { who: member.email ?? member.user_id })}</span>
                    <select
                      value={member.role}
                      onChange={(e) => change.mutate({ userId: member.user_id, newRole: e.target.value as Role })}
                    >
                      {ROLES.map((r) => (
                        <option key={r} value={r}>
                          {t(`roles.${r}`)}
                        </option>
                      ))}
                    </select>
                  </label>
                  <button
                    type="button"
                    className="button button-danger"
                    onClick={() => {
                      if (window.confirm(t('settings.confirmRemove', { who: member.email ?? member.user_id })))
                        remove.mutate(member.user_id);
                    }}
                  >
                    {t('settings.remove')}
                  </button>
                </div>
              ) : (
                <span className="badge">{t(`roles.${member.role}`)}</span>
              )}
            </li>
          ))}
        </ul>
      )}
      {editable && (
        <form className="form-grid" onSubmit={submit}>
          <label className="field field-wide">
            <span>{t('settings.inviteEmail')}</span>
            <input type="email" required value={email} autoComplete="off" onChange={(e) => setEmail(e.target.value)} />
          </label>
          <label className="field">
            <span>{t('settings.role')}</span>
            <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {t(`roles.${r}`)}
                </option>
              ))}
            </select>
          </label>
          <div className="form-actions">
            <button type="submit" className="button button-primary" disabled={invite.isPending}>
              {t('settings.invite')}
            </button>
          </div>
        </form>
      )}
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
