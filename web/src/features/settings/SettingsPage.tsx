// Farm settings: alert thresholds and quiet hours, mastitis diagnosis names, notification targets,
// agent keys, members.
// Everyone can read; only owners change anything (the API and RLS enforce it, the UI just follows).
import { useQuery } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';

import { getSettings, queryKeys } from '../../api/endpoints';
import { PageHeader } from '../../components/PageHeader';
import { ErrorState, Loading } from '../../components/StateViews';
import { canManage, useFarm } from '../../lib/farm';
import { AgentKeys } from './AgentKeys';
import { AlertSettings } from './AlertSettings';
import { MastitisNames } from './MastitisNames';
import { Members } from './Members';
import { NotificationTargets } from './NotificationTargets';

export function SettingsPage() {
  const { t } = useTranslation();
  const { farm, me } = useFarm();
  const settings = useQuery({
    queryKey: queryKeys.settings(farm.farm_id),
    queryFn: ({ signal }) => getSettings(farm.farm_id, signal),
  });
  const owner = canManage(farm);

  return (
    <>
      <PageHeader title={t('settings.title')} />
      {!owner && <p className="banner banner-info">{t('settings.readOnly', { role: t(`roles.${farm.role}`) })}</p>}
      {settings.isPending ? (
        <Loading />
      ) : settings.isError ? (
        <ErrorState error={settings.error} onRetry={() => void settings.refetch()} />
      ) : (
        <div className="panels">
          <AlertSettings key={settings.data.farm_id} settings={settings.data} editable={owner} />
          {settings.data.mastitis_patterns && (
            <MastitisNames
              key={`mastitis-${settings.data.farm_id}`}
              settings={settings.data}
              patterns={settings.data.mastitis_patterns}
              editable={owner}
            />
          )}
          <NotificationTargets settings={settings.data} editable={owner} />
          {owner && <AgentKeys farmId={farm.farm_id} timeZone={farm.time_zone} />}
          <Members farmId={farm.farm_id} editable={owner} myUserId={me.user.id} />
        </div>
      )}
    </>
  );
}

export default SettingsPage;
