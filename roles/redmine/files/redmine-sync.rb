# The body of a rake task (see tasks/sync.yml), run in the Redmine application as the web user.
# First finds out what the instance's database still needs: migrations (pending) or the default
# data (no_data; an empty database has neither tables nor data). If it needs either, it stops
# there: the role migrates and loads the data, then runs this again. Otherwise it applies the
# settings the role manages. It prints one line of JSON without anything secret in it. The wanted
# values come as JSON on standard input, so that the password is never on a command line.
wanted = JSON.parse($stdin.read)
connection = ActiveRecord::Base.connection
pool = ActiveRecord::Base.connection_pool
context = pool.respond_to?(:migration_context) ? pool.migration_context : connection.migration_context
pending = context.needs_migration?
no_data = !connection.data_source_exists?('trackers') || Redmine::DefaultData::Loader.no_data?
if pending || no_data
  puts({ 'pending' => pending, 'no_data' => no_data, 'applied' => false, 'changed' => [], 'errors' => [] }.to_json)
  next
end

changed = []
errors = []
admin = User.find_by(login: 'admin')
if admin.nil?
  errors << 'Redmine has no user "admin" (renamed or deleted): set its password by hand'
elsif !admin.check_password?(wanted['admin_password']) || admin.must_change_passwd?
  admin.password = wanted['admin_password']
  admin.password_confirmation = wanted['admin_password']
  admin.must_change_passwd = false
  if admin.save
    changed << 'admin_password'
  else
    errors.concat(admin.errors.full_messages.map { |message| "admin password: #{message}" })
  end
end
if Setting.rest_api_enabled? != wanted['rest_api']
  Setting.rest_api_enabled = wanted['rest_api'] ? '1' : '0'
  changed << 'rest_api_enabled'
end
if Setting.default_language != wanted['default_language']
  Setting.default_language = wanted['default_language']
  changed << 'default_language'
end
puts({ 'pending' => false, 'no_data' => false, 'applied' => true, 'changed' => changed, 'errors' => errors }.to_json)
