-- The seeds' home feed: every activity with its author, newest first. $1: the most rows to return.
SELECT
  activities.uuid,
  users.handle,
  users.display_name,
  activities.message,
  activities.replies_count,
  activities.reposts_count,
  activities.likes_count,
  activities.reply_to_activity_uuid,
  activities.expires_at,
  activities.created_at
FROM public.activities
JOIN public.users ON users.uuid = activities.user_uuid
ORDER BY activities.created_at DESC, activities.uuid
LIMIT $1
